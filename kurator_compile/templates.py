"""`*.yaml.j2` resources -> YAML text per cluster, in a Jinja2 sandbox that can reach nothing.

Templates see `cluster` (name, labels, provider, region, zones, capacity, kubeVersion),
`fleet` (name) and `values` (merged from the overlays that select the cluster). No loader is
configured, so `include`/`import` cannot read files; the sandbox blocks attributes such as
`__class__` and caps `range()`; an undefined variable is an error naming file and line.

Work is bounded too, since each step of a template may be allowed and their product not:
* `**` may not build an integer of more than MAX_INT_BITS bits, nor `*` (on numbers) or
  string/list repetition anything larger than that or MAX_RENDERED_CHARS;
* one render may run at most MAX_TEMPLATE_STEPS loop iterations and calls (counted in every
  `for` loop and every call the sandbox sees, macros included), whatever thread it runs in;
* as a last safety net for work nothing above counts (a builtin filter over a huge range),
  one render may take at most RENDER_SECONDS of wall-clock time; this needs SIGALRM, so it
  applies on the main thread only (where the CLI renders), and not when another interval
  timer is already running. It is generous so that the counted bounds, which give the same
  answer on any machine, are what ordinary runaway templates meet first.
"""

from __future__ import annotations

import re
import signal
import threading
import traceback
from collections.abc import Iterable, Iterator, Mapping
from contextvars import ContextVar
from functools import cache
from types import FrameType
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, UndefinedError, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from .errors import CompileError, Diagnostic, SourceLocation
from .manifests import file_objects
from .model import Cluster
from .sources import SourceFile
from .yamldoc import Document, load_stream

# Rendered text larger than this is a runaway loop, not a manifest.
MAX_RENDERED_CHARS = 4 * 1024 * 1024
# No integer a template computes with `**` or `*` may be larger than this many bits.
MAX_INT_BITS = 1 << 20
# Loop iterations plus calls of one render.
MAX_TEMPLATE_STEPS = 1_000_000
# Wall-clock time of one render (main thread only): a safety net, not the bound.
RENDER_SECONDS = 60.0


class TemplateBudgetError(Exception):
    """A render that ran out of steps or time (a runaway loop)."""


class _Steps:
    def __init__(self, limit: int) -> None:
        self.left = limit

    def tick(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise TemplateBudgetError(
                f"the template runs more than {MAX_TEMPLATE_STEPS} loop iterations and calls "
                "(a runaway loop?)"
            )


_STEPS: ContextVar[_Steps | None] = ContextVar("kurator_template_steps", default=None)


def _counted(iterable: Iterable[Any]) -> Iterator[Any]:
    """What every template `for` loop iterates over: its iterable, one step per item."""
    steps = _STEPS.get()
    if steps is None:
        yield from iterable
        return
    for item in iterable:
        steps.tick()
        yield item


def _int_bits(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return max(value.bit_length(), 1)


class _Environment(SandboxedEnvironment):
    """The sandbox, with the size of `*` and `**` results capped (`'x' * 10**9` would exhaust
    memory, `((10**1000)**1000)**1000` would compute for minutes) and every call counted."""

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            self._check_product(left, right)
            self._check_product(right, left)
        if operator == "%" and isinstance(left, str):
            _check_format(left, list(right) if isinstance(right, tuple) else [right])
        if operator == "**" and isinstance(right, int) and not isinstance(right, bool):
            if right > 1000:
                raise SecurityError("the exponent is too large")
            bits = _int_bits(left)
            if bits is not None and right > 0 and (bits - 1) * right > MAX_INT_BITS:
                raise SecurityError(
                    f"the result of the power would be too large (over {MAX_INT_BITS} bits)"
                )
        return super().call_binop(context, operator, left, right)

    @staticmethod
    def _check_product(left: Any, right: Any) -> None:
        if isinstance(left, str | list | tuple) and isinstance(right, int):
            if len(left) * right > MAX_RENDERED_CHARS:
                raise SecurityError("the result of the multiplication would be too large")
            return
        left_bits, right_bits = _int_bits(left), _int_bits(right)
        if (
            left_bits is not None
            and right_bits is not None
            and left_bits + right_bits > MAX_INT_BITS
        ):
            raise SecurityError(
                f"the result of the multiplication would be too large (over {MAX_INT_BITS} bits)"
            )

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        steps = _STEPS.get()
        if steps is not None:
            steps.tick()
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str):
            _check_str_method(owner, getattr(__obj, "__name__", ""), args, kwargs)
        return super().call(__context, __obj, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> Any:
        """`str.format` and `format_map`, their widths bounded before anything is padded."""
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        text: str = value.__self__

        def bounded(*args: Any, **kwargs: Any) -> Any:
            _check_format(text, [*args, *kwargs.values()])
            return wrapped(*args, **kwargs)

        return bounded


def _too_large(size: int) -> None:
    if size > MAX_RENDERED_CHARS:
        raise SecurityError(
            f"the result would be larger than {MAX_RENDERED_CHARS} characters (a width, count "
            "or padding argument is too large)"
        )


def _number(value: Any) -> int:
    """A width or count argument as the callee will read it (0 when it is not a number)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return int(min(abs(value), MAX_RENDERED_CHARS + 1))


_WIDTHS = re.compile(r"[0-9]+")


def _check_format(text: str, args: list[Any]) -> None:
    """`%` and `str.format` pad to any width written in the format or passed for `*` / `{}`."""
    if any(len(run) > 9 or int(run) > MAX_RENDERED_CHARS for run in _WIDTHS.findall(text)):
        _too_large(MAX_RENDERED_CHARS + 1)
    if "*" in text or "{" in text:
        for arg in args:
            _too_large(_number(arg))


def _check_str_method(text: str, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Methods whose result may dwarf their inputs (`'x'.center(10**9)`), checked first."""
    given = [*args, *kwargs.values()]
    if name in ("center", "ljust", "rjust", "zfill") and given:
        _too_large(_number(given[0]))
    elif name == "expandtabs" and given:
        _too_large(len(text) + text.count("\t") * _number(given[0]))
    elif name == "replace" and len(given) >= 2 and isinstance(given[0], str):
        old, new = given[0], given[1]
        count = (len(text) + 1) if old == "" else text.count(old)
        if (
            len(given) > 2
            and _number(given[2])
            and not (isinstance(given[2], int) and given[2] < 0)
        ):
            count = min(count, _number(given[2]))
        _too_large(len(text) + count * len(str(new)))
    elif name == "join" and given and isinstance(given[0], list | tuple):
        _too_large(len(text) * len(given[0]) + sum(len(str(item)) for item in given[0]))


def _bounded_filters(filters: dict[str, Any]) -> dict[str, Any]:
    """Jinja's padding and repeating filters, their size checked before they run."""
    from jinja2 import filters as builtin

    def center(value: Any, width: int = 80) -> str:
        _too_large(_number(width))
        return builtin.do_center(value, width)

    def indent(s: str, width: int | str = 4, first: bool = False, blank: bool = False) -> str:
        pad = len(width) if isinstance(width, str) else _number(width)
        _too_large(len(str(s)) + pad * (str(s).count("\n") + 1))
        return builtin.do_indent(s, width, first, blank)

    def format_(value: str, *args: Any, **kwargs: Any) -> str:
        _check_format(str(value), [*args, *kwargs.values()])
        return builtin.do_format(value, *args, **kwargs)

    def replace(eval_ctx: Any, s: str, old: str, new: str, count: int | None = None) -> str:
        _check_str_method(str(s), "replace", (old, new, *(() if count is None else (count,))), {})
        return builtin.do_replace(eval_ctx, s, old, new, count)

    def join(eval_ctx: Any, value: Any, d: str = "", attribute: Any = None) -> str:
        items = list(value)
        _too_large(len(str(d)) * len(items) + sum(len(str(item)) for item in items))
        return builtin.sync_do_join(eval_ctx, items, d, attribute)

    def batch(value: Any, linecount: int, fill_with: Any = None) -> Any:
        _too_large(_number(linecount))
        return builtin.do_batch(value, linecount, fill_with)

    def slice_(value: Any, slices: int, fill_with: Any = None) -> Any:
        _too_large(_number(slices))
        return builtin.sync_do_slice(value, slices, fill_with)

    def tojson(eval_ctx: Any, value: Any, indent: int | None = None) -> Any:
        _too_large(_number(indent))
        return builtin.do_tojson(eval_ctx, value, indent)

    replace.jinja_pass_arg = join.jinja_pass_arg = tojson.jinja_pass_arg = (  # type: ignore[attr-defined]
        builtin.do_replace.jinja_pass_arg  # type: ignore[attr-defined]
    )
    bounded = {
        "center": center,
        "indent": indent,
        "format": format_,
        "replace": replace,
        "join": join,
        "batch": batch,
        "slice": slice_,
        "tojson": tojson,
    }
    filters.pop("random", None)  # a different output on every run
    return {**filters, **bounded}


def _instrument(tree: nodes.Template) -> nodes.Template:
    """Wrap the iterable of every `for` loop in `_counted`."""
    for loop in list(tree.find_all(nodes.For)):
        loop.iter = nodes.Call(
            nodes.ImportedName(f"{__name__}._counted"), [loop.iter], [], None, None
        )
    return tree


class _Deadline:
    """SIGALRM after RENDER_SECONDS (then every 0.1 s until the render stops), raising
    TemplateBudgetError in the render; does nothing off the main thread or when another
    interval timer is armed."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.armed = False
        self.previous: Any = None

    def _fire(self, signum: int, frame: FrameType | None) -> None:
        del signum, frame
        if self.armed:
            raise TemplateBudgetError(
                f"template took longer than {self.seconds:g} s to render (a runaway loop?)"
            )

    def __enter__(self) -> _Deadline:
        usable = (
            hasattr(signal, "setitimer")
            and threading.current_thread() is threading.main_thread()
            and signal.getitimer(signal.ITIMER_REAL)[0] == 0
        )
        if usable:
            self.previous = signal.signal(signal.SIGALRM, self._fire)
            self.armed = True
            signal.setitimer(signal.ITIMER_REAL, self.seconds, 0.1)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.armed:
            self.armed = False
            signal.setitimer(signal.ITIMER_REAL, 0)
            previous = self.previous
            signal.signal(signal.SIGALRM, signal.SIG_DFL if previous is None else previous)


@cache
def _environment() -> _Environment:
    env = _Environment(
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        loader=None,
    )
    env.intercepted_binops = frozenset({"*", "**", "%"})
    env.filters = _bounded_filters(dict(env.filters))
    env.globals.pop("lipsum", None)  # random text: a different output on every run
    return env


def cluster_context(cluster: Cluster) -> dict[str, Any]:
    return {
        "name": cluster.name,
        "labels": dict(cluster.labels),
        "provider": cluster.provider,
        "region": cluster.region,
        "zone": cluster.zones[0] if cluster.zones else "",
        "zones": list(cluster.zones),
        "capacity": dict(cluster.capacity),
        "kubeVersion": cluster.kube_version or "",
    }


def _template_line(error: BaseException, name: str) -> int:
    if isinstance(error, TemplateSyntaxError) and error.lineno:
        return int(error.lineno)
    line = 0
    for frame in traceback.extract_tb(error.__traceback__):
        if frame.filename == name and frame.lineno:
            line = frame.lineno
    return line or 1


def render_template(
    source: SourceFile, cluster: Cluster, fleet_name: str, values: Mapping[str, Any]
) -> list[Document]:
    """The objects `source` yields for `cluster`, read from the rendered text as a plain file's
    are (lists expanded; a kustomize file is an error); errors carry the template's file:line."""

    def fail(message: str, line: int) -> CompileError:
        where = SourceLocation(source.path, line, 1)
        return CompileError(
            [Diagnostic.error(f"template error for cluster {cluster.name}: {message}", where)]
        )

    token = _STEPS.set(_Steps(MAX_TEMPLATE_STEPS))
    try:
        env = _environment()
        tree = env.parse(source.text, source.path, source.path)
        code = env.compile(_instrument(tree), source.path, source.path)
        template = env.template_class.from_code(env, code, env.make_globals(None), None)
        with _Deadline(RENDER_SECONDS):
            text = _bounded_render(
                template.generate(
                    cluster=cluster_context(cluster),
                    fleet={"name": fleet_name},
                    values=dict(values),
                )
            )
    except TemplateBudgetError as error:
        raise fail(str(error), _template_line(error, source.path)) from None
    except TemplateSyntaxError as error:
        raise fail(f"syntax: {error.message}", _template_line(error, source.path)) from None
    except UndefinedError as error:
        raise fail(f"{error.message} (undefined)", _template_line(error, source.path)) from None
    except SecurityError as error:
        raise fail(
            f"not allowed in the sandbox: {error}", _template_line(error, source.path)
        ) from None
    except (TemplateError, OverflowError, ValueError, TypeError, ArithmeticError) as error:
        raise fail(f"{type(error).__name__}: {error}", _template_line(error, source.path)) from None
    except RecursionError:
        raise fail("recursion too deep", 1) from None
    except SyntaxError as error:  # Python's own limits on the compiled template
        raise fail(f"too deeply nested for Python: {error.msg}", 1) from None
    except MemoryError as error:
        raise fail("out of memory", _template_line(error, source.path)) from None
    except Exception as error:  # any method a template may call can raise anything
        raise fail(f"{type(error).__name__}: {error}", _template_line(error, source.path)) from None
    finally:
        _STEPS.reset(token)
    if text is None:
        raise fail("rendered text is larger than 4 MiB", 1)
    objects, errors = file_objects(load_stream(text, source.path))
    if errors:
        raise CompileError(errors)
    return objects


def _bounded_render(pieces: Iterator[str]) -> str | None:
    """The rendered text, or None once it passes MAX_RENDERED_CHARS: a loop that prints one
    large string many times holds only references, and joining them would exhaust memory."""
    size = 0
    kept: list[str] = []
    for piece in pieces:
        size += len(piece)
        if size > MAX_RENDERED_CHARS:
            return None
        kept.append(piece)
    return "".join(kept)


class TemplateSet:
    """Templates rendered lazily per cluster; the first cluster's render names the objects."""

    def __init__(
        self,
        sources: tuple[SourceFile, ...],
        clusters: tuple[Cluster, ...],
        fleet_name: str,
        values: Any,
    ) -> None:
        self.sources = {s.path: s for s in sources}
        self.clusters = {c.name: c for c in clusters}
        self.probe_cluster = min(self.clusters) if self.clusters else ""
        self.fleet_name = fleet_name
        self.values = values  # Callable[[Cluster], dict]: overlay values for a cluster
        self._rendered: dict[tuple[str, str], list[Document]] = {}
        self.diagnostics: list[Diagnostic] = []

    def documents(self, path: str, cluster: str) -> list[Document]:
        key = (path, cluster)
        if key not in self._rendered:
            target = self.clusters[cluster]
            self._rendered[key] = render_template(
                self.sources[path], target, self.fleet_name, self.values(target)
            )
        return self._rendered[key]

    def probe(self) -> list[Document]:
        """Every template rendered for the first cluster: what placement sees."""
        found: list[Document] = []
        errors: list[Diagnostic] = []
        for path in sorted(self.sources):
            try:
                found.extend(self.documents(path, self.probe_cluster))
            except CompileError as error:
                errors.extend(error.diagnostics)
        if errors:
            raise CompileError(errors)
        return found

    def check_same_objects(self, clusters: Iterable[str]) -> None:
        """Every cluster's render must yield the probe's objects: placement sees only the
        probe's, so an object only some other clusters yield (or that some lack) would
        vanish silently. Clusters that differ alike share one error."""
        for path in sorted(self.sources):
            probe = self.documents(path, self.probe_cluster)
            expected = [_identity(d.data) for d in probe]
            groups: dict[tuple[tuple[Any, ...], tuple[Any, ...]], list[str]] = {}
            where: dict[tuple[tuple[Any, ...], tuple[Any, ...]], SourceLocation] = {}
            for cluster in sorted(set(clusters) - {self.probe_cluster}):
                try:
                    rendered = self.documents(path, cluster)
                except CompileError as error:
                    self.diagnostics.extend(error.diagnostics)
                    continue
                got = [_identity(d.data) for d in rendered]
                if got == expected:
                    continue
                extra = tuple(i for i in dict.fromkeys(got) if i not in expected)
                missing = tuple(i for i in dict.fromkeys(expected) if i not in got)
                key = (extra, missing)
                groups.setdefault(key, []).append(cluster)
                if key not in where:
                    first = next((d for d in rendered if _identity(d.data) in extra), None)
                    if first is None:
                        first = next((d for d in probe if _identity(d.data) in missing), None)
                    where[key] = (first or (rendered or probe)[0]).locate("")
            for (extra, missing), names in groups.items():
                parts = [f"{_show(i)} only for {_names(names)}" for i in extra]
                parts += [f"{_show(i)} not for {_names(names)}" for i in missing]
                if not parts:
                    parts = ["the same objects in another order"]
                self.diagnostics.append(
                    Diagnostic.error(
                        f"template renders different objects for cluster {_names(names)} than "
                        f"for {self.probe_cluster}: {'; '.join(parts)}. A template may vary an "
                        "object's content, not which objects it yields (kind, namespace, name)",
                        where[(extra, missing)],
                    )
                )

    def data_for(self, document: Document, cluster: str) -> dict[str, Any] | None:
        """The object `document` (from the probe render) as rendered for `cluster`."""
        try:
            rendered = self.documents(document.file, cluster)
        except CompileError as error:
            self.diagnostics.extend(error.diagnostics)
            return None
        position = next(
            (
                i
                for i, d in enumerate(self.documents(document.file, self.probe_cluster))
                if d is document
            ),
            None,
        )
        if (
            position is None
            or position >= len(rendered)
            or not _same_identity(rendered[position].data, document.data)
        ):
            return None  # check_same_objects reports it, for every cluster that differs
        data: dict[str, Any] = rendered[position].data
        return data


def _identity(value: Any) -> tuple[object, ...]:
    if not isinstance(value, dict):
        return (None,)
    meta = value.get("metadata")
    if not isinstance(meta, dict):
        meta = {}
    return (value.get("apiVersion"), value.get("kind"), meta.get("namespace"), meta.get("name"))


def _same_identity(left: Any, right: Any) -> bool:
    return _identity(left) == _identity(right)


def _show(identity: tuple[object, ...]) -> str:
    if identity == (None,):
        return "a document that is not a mapping"
    _, kind, namespace, name = identity
    return "/".join(str(part) for part in (kind, namespace, name) if part is not None)


def _names(clusters: list[str], limit: int = 5) -> str:
    shown = ", ".join(clusters[:limit])
    return shown + (f" and {len(clusters) - limit} more" if len(clusters) > limit else "")
