"""YAML text -> plain documents, each with an index from JSON pointer to source position."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.composer import Composer
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError
from ruamel.yaml.resolver import VersionedResolver
from ruamel.yaml.tag import Tag

from .errors import CompileError, Diagnostic, SourceLocation
from .gcpause import cycle_collection_paused
from .yamlscalar import ScalarError, json_key, json_value, resolve_plain, resolve_tagged

# A document may expand aliases to at most this many nodes beyond its own text; more is a
# "billion laughs" bomb. Real manifests with anchors stay far below it.
MAX_ALIAS_EXPANSION = 100_000
# One input file holds at most this many characters; larger is not a hand-written manifest.
MAX_FILE_CHARS = 16 * 1024 * 1024

_TAG = "tag:yaml.org,2002:"
_TYPED_TAGS = frozenset(
    _TAG + name for name in ("null", "bool", "int", "float", "timestamp", "binary")
)
# The tag given to untagged plain scalars, typed later as kubectl's reader types them.
_PLAIN = Tag(suffix="tag:kurator-compile,2026:plain")
_STR = Tag(suffix=_TAG + "str")
_SEQ = Tag(suffix=_TAG + "seq")
_MAP = Tag(suffix=_TAG + "map")
# Entries (`key: `, `- `, `,`) one file may hold: a cheap bound on parsing work; real
# manifests stay orders of magnitude below it.
MAX_NODES = 2_000_000
# Mappings and sequences nested deeper than this are refused where they pass it: every later
# stage (overlay values, patches, schema validation) walks documents recursively.
MAX_DEPTH = 100
# Where an alias may start: a `*` at the start of a token (after a space, a line break, a flow
# indicator, `:`, `?` or `-`), never inside a scalar such as `../apps/*.yaml`.
_ALIAS = re.compile(r"(?<![^\s\[\]{},:?\-\ufeff])\*")
_BAD_INDENT = re.compile(r"^[ \t\u00a0]*?([\t\u00a0])", re.MULTILINE)
# Where a node tagged with the non-specific tag `!` starts: at the tag, or at an anchor before
# it (`&a ! 12`), either one after a space, a flow indicator or nothing. Possessive, so linear
# in the text; it begins with `[&!]` so that the search skips the rest of the text fast.
_NONSPECIFIC = re.compile(r"[&!](?<![^\s\[{,].)(?:(?<=&)[^\s,\[\]{}]++\s++!|(?<=!))(?=[\s,\]}]|\Z)")


def escape_pointer_token(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def pointer_join(base: str, token: str | int) -> str:
    return f"{base}/{escape_pointer_token(str(token))}"


@dataclass(frozen=True)
class Document:
    """One YAML document as plain Python data, plus where each part of it was written."""

    file: str
    index: int
    data: Any
    positions: Mapping[str, tuple[int, int]] = field(default_factory=dict, repr=False)
    # The document's own text, kept only for SOPS-encrypted documents, which are emitted
    # byte for byte: re-serialising them would break their MAC.
    raw: str | None = field(default=None, repr=False, compare=False)

    def locate(self, pointer: str = "") -> SourceLocation:
        """The position of `pointer`, or of its nearest ancestor that has one: looked up when
        the location's line or column is first read (most are never shown)."""
        return SourceLocation.later(self.file, pointer, self._find)

    def _find(self, pointer: str) -> tuple[int, int]:
        probe = pointer
        while True:
            pos = self.positions.get(probe)
            if pos is not None:
                return pos
            if not probe:
                return (1, 1)
            probe = probe.rsplit("/", 1)[0]


class _Stream:
    """A parsed stream's text, to compose again with marks when a position is asked for."""

    __slots__ = ("_found", "file", "pure", "text")

    def __init__(self, text: str, file: str, pure: bool) -> None:
        self.text = text
        self.file = file
        self.pure = pure
        self._found: dict[int, dict[str, tuple[int, int]]] | None = None

    def positions(self, index: int) -> dict[str, tuple[int, int]]:
        if self._found is None:
            self._found = _located(_reader(pure=self.pure), self.text, self.file)
        return self._found.get(index, {})


class _Positions(Mapping[str, tuple[int, int]]):
    """A document's positions, recorded only when first asked for (by composing its stream
    again): most runs locate nothing, and recording a position for every node of a
    10,000-cluster fleet file cost as much as reading it. The root's is known at once."""

    __slots__ = ("_found", "_index", "_root", "_stream")

    def __init__(self, stream: _Stream, index: int, root: tuple[int, int]) -> None:
        self._stream = stream
        self._index = index
        self._root = root
        self._found: dict[str, tuple[int, int]] | None = None

    def _all(self) -> dict[str, tuple[int, int]]:
        if self._found is None:
            self._found = self._stream.positions(self._index)
        return self._found

    def get(self, key: str, default: Any = None) -> Any:
        return self._root if key == "" else self._all().get(key, default)

    def __getitem__(self, key: str) -> tuple[int, int]:
        return self._root if key == "" else self._all()[key]

    def __contains__(self, key: object) -> bool:
        return key == "" or key in self._all()

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _Positions) and other._stream is self._stream:
            return other._index == self._index
        return super().__eq__(other)

    __hash__ = None  # type: ignore[assignment]


_MAP_TAGS = frozenset((_TAG + "map", _TAG + "omap"))
_SEQ_TAG = _TAG + "seq"
_MERGE_TAG = _TAG + "merge"


class _Values:
    """Turns composed YAML nodes into plain values, and nothing else: on any problem it gives
    up (_Retry), and _Builder builds the node again to report it, positioned. In a stream
    without aliases no node needs to be remembered; plain scalars are typed
    once per text (a fleet file repeats its keys and label values thousands of times)."""

    def __init__(self, nonspecific: frozenset[int], aliases: bool = True) -> None:
        self.nonspecific = nonspecific
        self.seen: set[int] | None = set() if aliases else None
        self.expanded = 0
        self.depth = 0
        self.plain: dict[str, Any] = {}
        self.keys: dict[str, str] = {}

    def build(self, node: Node) -> Any:
        seen = self.seen
        if seen is not None:
            if id(node) in seen:
                self.expanded += 1
                if self.expanded > MAX_ALIAS_EXPANSION:
                    raise _Retry
            else:
                seen.add(id(node))
        if isinstance(node, ScalarNode):
            if node.ctag is not _PLAIN:
                value = _scalar_value(node, False)
                if value is _UNSUPPORTED:
                    raise _Retry
                return value
            text = node.value
            if self.nonspecific and node.start_mark.index in self.nonspecific:
                return text
            value = self.plain.get(text, _UNSUPPORTED)
            if value is _UNSUPPORTED:
                value = self.plain[text] = _scalar_value(node, True)
            return value
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _Retry
        result: Any
        if isinstance(node, MappingNode):
            if node.ctag is not _MAP and node.tag not in _MAP_TAGS:
                raise _Retry
            result = self._mapping(node)
        else:
            if node.ctag is not _SEQ and node.tag != _SEQ_TAG:
                raise _Retry
            build = self.build
            result = [build(item) for item in node.value]
        self.depth -= 1
        return result

    def _mapping(self, node: MappingNode) -> dict[str, Any]:
        result: dict[str, Any] = {}
        merged: list[MappingNode] = []
        nonspecific = self.nonspecific
        keys = self.keys
        for key_node, value_node in node.value:
            if key_node.ctag is _PLAIN and not (
                nonspecific and key_node.start_mark.index in nonspecific
            ):
                text = key_node.value
                key = keys.get(text)
                if key is None:
                    if text == "<<":
                        merged.extend(_merge_sources(value_node))
                        continue
                    key = keys[text] = _key(key_node, True)
            elif key_node.tag == _MERGE_TAG:
                merged.extend(_merge_sources(value_node))
                continue
            elif isinstance(key_node, ScalarNode):
                key = _key(key_node, False)
            else:
                raise _Retry
            if key in result:  # only explicit keys so far: merged ones come after
                raise _Retry
            result[key] = self.build(value_node)
        for source in merged:
            value = self.build(source)
            if isinstance(value, dict):
                for key, item in value.items():
                    result.setdefault(key, item)
        return result


def _merge_sources(value: Node) -> list[MappingNode]:
    sources = value.value if isinstance(value, SequenceNode) else [value]
    if not all(isinstance(source, MappingNode) for source in sources):
        raise _Retry
    return list(sources)


class _Retry(Exception):
    """A node _Values does not build: _Builder reports why."""


class _Builder:
    """Turns composed YAML nodes into plain values, recording positions and policing aliases."""

    def __init__(self, file: str, nonspecific: frozenset[int] = frozenset()) -> None:
        self.file = file
        # For libyaml, which reports a scalar tagged `!` as plain: where such nodes may start.
        # A plain scalar cannot begin with `!` or `&`, so one starting there carries the tag.
        self.nonspecific = nonspecific
        self.positions: dict[str, tuple[int, int]] = {}
        self.seen: set[int] = set()
        self.expanded = 0
        self.depth = 0
        self.errors: list[Diagnostic] = []

    def _loc(self, node: Node, pointer: str) -> SourceLocation:
        mark = node.start_mark
        return SourceLocation(self.file, mark.line + 1, mark.column + 1, pointer)

    def build(self, node: Node, pointer: str, key_pos: tuple[int, int] | None = None) -> Any:
        if id(node) in self.seen:
            self.expanded += 1
            if self.expanded > MAX_ALIAS_EXPANSION:
                raise CompileError(
                    [
                        Diagnostic.error(
                            f"YAML aliases expand past {MAX_ALIAS_EXPANSION} nodes "
                            "(an alias bomb?); write the data out instead",
                            self._loc(node, pointer),
                        )
                    ]
                )
        else:
            self.seen.add(id(node))
        mark = node.start_mark
        self.positions[pointer] = key_pos or (mark.line + 1, mark.column + 1)
        if isinstance(node, MappingNode | SequenceNode):
            self.depth += 1
            try:
                return self._collection(node, pointer)
            finally:
                self.depth -= 1
        assert isinstance(node, ScalarNode)
        return self._scalar(node, pointer)

    def _collection(self, node: Node, pointer: str) -> Any:
        if self.depth > MAX_DEPTH:
            raise CompileError(
                [
                    Diagnostic.error(
                        f"YAML nesting is deeper than {MAX_DEPTH} levels; no Kubernetes object "
                        "needs that many",
                        self._loc(node, pointer),
                    )
                ]
            )
        if isinstance(node, MappingNode):
            if node.tag not in (_TAG + "map", _TAG + "omap"):
                self._unsupported(node, pointer)
            return self._mapping(node, pointer)
        if isinstance(node, SequenceNode):
            if node.tag != _TAG + "seq":
                self._unsupported(node, pointer)
            return [self.build(item, pointer_join(pointer, i)) for i, item in enumerate(node.value)]
        raise AssertionError(node)

    def _mapping(self, node: MappingNode, pointer: str) -> dict[str, Any]:
        result: dict[str, Any] = {}
        written: dict[str, Node] = {}
        merged: list[MappingNode] = []
        for key_node, value_node in node.value:
            plain = key_node.ctag is _PLAIN and not (
                self.nonspecific and key_node.start_mark.index in self.nonspecific
            )
            if (plain and key_node.value == "<<") or key_node.tag == _TAG + "merge":
                sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
                for source in sources:
                    if isinstance(source, MappingNode):
                        merged.append(source)
                    else:  # silently ignored before: a merge key merges mappings only
                        self.errors.append(
                            Diagnostic.error(
                                "a merge key (<<) takes a mapping or a list of mappings",
                                self._loc(source, pointer),
                            )
                        )
                continue
            if not isinstance(key_node, ScalarNode):
                self.errors.append(
                    Diagnostic.error(
                        "mapping keys must be plain scalars", self._loc(key_node, pointer)
                    )
                )
                continue
            try:
                key = _key(key_node, plain)
            except ScalarError as error:
                self.errors.append(
                    Diagnostic.error(
                        f"mapping key {str(key_node.value)[:40]!r}: {error}",
                        self._loc(key_node, pointer),
                    )
                )
                continue
            child = pointer_join(pointer, key)
            if key in written:
                first = written[key].start_mark
                self.errors.append(
                    Diagnostic.error(
                        f"duplicate key {key!r} (first defined at line {first.line + 1}, "
                        f"column {first.column + 1})",
                        self._loc(key_node, child),
                    )
                )
                continue
            written[key] = key_node
            kmark = key_node.start_mark
            result[key] = self.build(value_node, child, (kmark.line + 1, kmark.column + 1))
        for source in merged:
            # `<<` merge keys: explicit keys win, earlier merge sources win over later ones.
            # Built through build() so that merging an alias counts against the alias budget.
            value = self.build(source, pointer)
            if isinstance(value, dict):
                for key, item in value.items():
                    result.setdefault(key, item)
        return result

    def _unsupported(self, node: Node, pointer: str) -> None:
        self.errors.append(
            Diagnostic.error(f"unsupported YAML tag {node.tag!r}", self._loc(node, pointer))
        )

    def _scalar(self, node: ScalarNode, pointer: str) -> Any:
        text = node.value
        plain = node.ctag is _PLAIN
        if plain and self.nonspecific and node.start_mark.index in self.nonspecific:
            return text  # tagged `!`: kubectl reads `! 12` as "12"
        try:
            value = _scalar_value(node, plain)
        except ScalarError as error:
            self.errors.append(
                Diagnostic.error(f"{text[:40]!r}: {error}", self._loc(node, pointer))
            )
            return text
        if value is _UNSUPPORTED:
            self._unsupported(node, pointer)
            return text
        return value


# What _scalar_value gives for a tag this reader does not type.
_UNSUPPORTED = object()


def _scalar_value(node: ScalarNode, plain: bool) -> Any:
    """A scalar as kubectl types it (ScalarError when it cannot)."""
    text = node.value
    if plain:
        value = resolve_plain(text)
        return value if type(value) is str else json_value(value)
    tag = node.tag
    if tag == _TAG + "str":
        return text
    if tag not in _TYPED_TAGS:
        return _UNSUPPORTED
    return json_value(resolve_tagged(tag.removeprefix(_TAG), text))


def _key(node: ScalarNode, plain: bool) -> str:
    """The key as kubectl has it: `y` is "true", `0644` is "420"."""
    text = node.value
    if plain:
        return json_key(resolve_plain(text))
    tag = node.tag
    if tag in _TYPED_TAGS:
        return json_key(resolve_tagged(tag.removeprefix(_TAG), text))
    return str(text)


def _indentation_errors(text: str, file: str, *, tabs: bool) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    for match in _BAD_INDENT.finditer(text):
        char = match.group(1)
        if char == "\t" and not tabs:
            continue
        line = text.count("\n", 0, match.start(1)) + 1
        column = match.start(1) - (text.rfind("\n", 0, match.start(1)) + 1) + 1
        what = (
            "a tab"
            if char == "\t"
            else "a non-breaking space (U+00A0, often pasted from web pages)"
        )
        found.append(
            Diagnostic.error(
                f"{what} is used as indentation; YAML indentation must be plain spaces",
                SourceLocation(file, line, column),
            )
        )
    return found


def _yaml_error(error: MarkedYAMLError, file: str) -> Diagnostic:
    mark = error.problem_mark or error.context_mark
    problem = error.problem or error.context or "invalid YAML"
    context = f" ({error.context})" if error.context and error.problem else ""
    if mark is None:
        return Diagnostic.error(f"invalid YAML: {problem}{context}", SourceLocation(file, 1, 1))
    return Diagnostic.error(
        f"invalid YAML: {problem}{context}",
        SourceLocation(file, mark.line + 1, mark.column + 1),
    )


def _document_text(text: str, node: Node) -> str:
    """The lines a document's root node spans, as written."""
    start = text.rfind("\n", 0, node.start_mark.index) + 1
    end = node.end_mark.index
    body = text[start:end].rstrip("\n")
    return body + "\n"


class _KubectlComposer(Composer):
    """ruamel's pure composer, with a scalar tagged `!` (the non-specific tag) left a string,
    as kubectl reads it, where ruamel types it as if it were untagged."""

    def compose_scalar_node(self, anchor: Any) -> Any:
        event = self.parser.peek_event()
        node = super().compose_scalar_node(anchor)
        if event.ctag is not None and str(event.ctag) == "!":
            node.ctag = _STR
        return node


def _is_c(yaml: YAML) -> bool:
    return yaml.Parser.__name__ == "CParser"


class _KubectlResolver(VersionedResolver):
    """Leaves plain scalars untyped (tagged _PLAIN) for the builder to type as kubectl does,
    instead of ruamel's YAML 1.2 rules; the pure and the C parser then read alike. Looking up
    no table at all is also cheaper than ruamel's per-scalar version and regex lookups."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is ScalarNode:
            return _PLAIN if implicit[0] else _STR
        return _SEQ if kind is SequenceNode else _MAP

    # No path-based resolvers are registered: the composer's calls for each node return at once.
    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        return None

    def ascend_resolver(self) -> None:
        return None


def _node_bound(text: str) -> int:
    """About one YAML node per separator, counted before parsing: a key or a dash at the end
    of a line (`a:` or `-` alone, an empty `---` document) is a node as well as one followed
    by a space, and 5 million of them take minutes to compose."""
    counted = (",", "- ", ": ", "-\n", ":\n", "-\r", ":\r", "-\t", ":\t", "?")
    return sum(text.count(separator) for separator in counted)


def may_alias(text: str) -> bool:
    """Whether a stream may hold an alias. One that cannot composes no node twice: its nodes
    need not be remembered to bound how far aliases expand."""
    return "*" in text and _ALIAS.search(text) is not None


def _nonspecific(yaml: YAML, text: str) -> frozenset[int]:
    if "!" in text and _is_c(yaml):  # ruamel's own composer sees the tag (_KubectlComposer)
        shift = 1 if text.startswith("\ufeff") else 0  # libyaml's positions leave it out
        return frozenset(m.start() - shift for m in _NONSPECIFIC.finditer(text))
    return frozenset()


_C_LOADERS: dict[tuple[Any, ...], Any] = {}


def _nodes(yaml: YAML, text: str) -> Iterator[Node | None]:
    """The stream's documents as nodes. For libyaml, ruamel's `compose_all` builds a loader
    class for every stream (about 20 µs, a third of composing a small file; fleets have
    thousands of files and patch texts): the same class is built once here."""
    if not _is_c(yaml):
        yield from yaml.compose_all(text)
        return
    key = (yaml.Parser, yaml.Constructor, yaml.Resolver, yaml.version, yaml.allow_duplicate_keys)
    loader_class = _C_LOADERS.get(key)
    if loader_class is None:
        parser, constructor, resolver, version, duplicates = key

        def start(loader: Any, stream: str) -> None:  # as ruamel's XLoader starts
            parser.__init__(loader, stream)
            loader._parser = loader._composer = loader
            constructor.__init__(loader, loader=loader)
            loader.allow_duplicate_keys = duplicates
            resolver.__init__(loader, version=version, loadumper=loader)

        loader_class = type("Loader", (parser, constructor, resolver), {"__init__": start})
        _C_LOADERS[key] = loader_class
    loader = loader_class(text)
    try:
        while loader.check_node():
            yield loader.get_node()
    finally:
        loader.dispose()


def _compose(yaml: YAML, text: str, file: str) -> list[Document]:
    documents: list[Document] = []
    nodes = _nodes(yaml, text)
    nonspecific = _nonspecific(yaml, text)
    stream = _Stream(text, file, pure=not _is_c(yaml))
    aliases = may_alias(text)
    for index, node in enumerate(nodes):
        if node is None:
            continue
        try:
            data = _Values(nonspecific, aliases).build(node)
        except (_Retry, ScalarError):
            builder = _Builder(file, nonspecific)
            data = builder.build(node, "")
            if builder.errors:
                raise CompileError(builder.errors) from None
        if data is None:
            continue  # an empty document between `---` markers, as kubectl skips it
        raw = None
        if isinstance(data, dict) and isinstance(data.get("sops"), dict):
            raw = _document_text(text, node)
        mark = node.start_mark
        positions = _Positions(stream, index, (mark.line + 1, mark.column + 1))
        documents.append(Document(file, index, data, positions, raw))
    return documents


def _located(yaml: YAML, text: str, file: str) -> dict[int, dict[str, tuple[int, int]]]:
    """Every node's position in each document of a stream already read once without error."""
    nonspecific = _nonspecific(yaml, text)
    found: dict[int, dict[str, tuple[int, int]]] = {}
    for index, node in enumerate(yaml.compose_all(text)):
        if node is not None:
            builder = _Builder(file, nonspecific)
            builder.build(node, "")
            found[index] = builder.positions
    return found


_LOADERS = threading.local()


def _reader(*, pure: bool) -> YAML:
    """A loader. The C one is made once per thread: making one costs more than composing a
    small file (ruamel globs for plug-ins), fleets have thousands of files, and it keeps no
    state between streams (each stream gets a parser of its own). The pure one, used only
    when libyaml refuses a document, is made afresh: its composer would keep the anchors of
    a stream that failed."""
    if not pure:
        cached: YAML | None = getattr(_LOADERS, "yaml", None)
        if cached is not None:
            infos = getattr(cached, "doc_infos", None)  # ruamel.yaml 0.18.6 and later
            if infos is not None:
                infos.clear()  # one is added per stream
            return cached
    yaml = YAML(typ="safe", pure=pure)
    yaml.Resolver = _KubectlResolver
    yaml.Composer = _KubectlComposer
    if not pure:
        _LOADERS.yaml = yaml
    return yaml


def load_stream(text: str, file: str) -> list[Document]:
    """Parse a multi-document YAML stream; every problem becomes a positioned diagnostic."""
    if len(text) > MAX_FILE_CHARS:
        raise CompileError(
            [
                Diagnostic.error(
                    f"file is larger than {MAX_FILE_CHARS // (1024 * 1024)} MiB; "
                    "split it or leave it out of the fleet",
                    SourceLocation(file, 1, 1),
                )
            ]
        )
    separators = _node_bound(text)
    if separators > MAX_NODES:
        raise CompileError(
            [
                Diagnostic.error(
                    f"too many YAML nodes: about {separators} entries, over the {MAX_NODES} "
                    "this tool reads from one file (it would take minutes); split the file",
                    SourceLocation(file, 1, 1),
                )
            ]
        )
    nbsp = _indentation_errors(text, file, tabs=False)
    if nbsp:
        raise CompileError(nbsp)
    yaml = _reader(pure=False)  # the C parser when ruamel.yaml.clib is there
    try:
        try:
            with cycle_collection_paused():  # the nodes and documents outlive collections
                documents = _compose(yaml, text, file)
        except MarkedYAMLError as refused:
            if not _is_c(yaml):
                raise
            # libyaml refuses some documents that YAML (and kubectl's Go reader, and ruamel's
            # own parser) accept, such as `{server: https://host:6443}`, a plain scalar with
            # a colon inside a flow mapping: the conforming parser decides. When it refuses
            # too, libyaml's message stands (its positions are the ones users know).
            try:
                documents = _compose(_reader(pure=True), text, file)
            except MarkedYAMLError:
                raise refused from None
    except MarkedYAMLError as error:
        diagnostics = _indentation_errors(text, file, tabs=True) or [_yaml_error(error, file)]
        raise CompileError(diagnostics) from None
    except ReaderError as error:
        offset = error.position
        line = text.count("\n", 0, offset) + 1
        column = offset - (text.rfind("\n", 0, offset) + 1) + 1
        raise CompileError(
            [
                Diagnostic.error(
                    f"invalid YAML: control character {error.character!r} is not allowed "
                    "(YAML forbids most control characters; write it as an escape in a "
                    "double-quoted string)",
                    SourceLocation(file, line, column),
                )
            ]
        ) from None
    except RecursionError:
        raise CompileError(
            [Diagnostic.error("YAML nesting is too deep", SourceLocation(file, 1, 1))]
        ) from None
    return documents
