"""`*.yaml.j2` resources -> YAML text per cluster, in a Jinja2 sandbox that can reach nothing.

Templates see `cluster` (name, labels, provider, region, zones, capacity, kubeVersion),
`fleet` (name) and `values` (merged from the overlays that select the cluster). No loader is
configured, so `include`/`import` cannot read files; the sandbox blocks attributes such as
`__class__` and caps `range()`; an undefined variable is an error naming file and line.
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from functools import cache
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, UndefinedError
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from .errors import CompileError, Diagnostic, SourceLocation
from .model import Cluster
from .sources import SourceFile
from .yamldoc import Document, load_stream

# Rendered text larger than this is a runaway loop, not a manifest.
MAX_RENDERED_CHARS = 4 * 1024 * 1024


class _Environment(SandboxedEnvironment):
    """The sandbox, with string repetition capped too (`'x' * 10**9` would exhaust memory)."""

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        too_long = (
            operator == "*"
            and isinstance(left, str | list)
            and isinstance(right, int)
            and len(left) * right > MAX_RENDERED_CHARS
        )
        if too_long:
            raise SecurityError("the result of the multiplication would be too large")
        if operator == "**" and isinstance(right, int) and right > 1000:
            raise SecurityError("the exponent is too large")
        return super().call_binop(context, operator, left, right)


@cache
def _environment() -> _Environment:
    env = _Environment(
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        loader=None,
    )
    env.intercepted_binops = frozenset({"*", "**"})
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
    """The documents `source` yields for `cluster`; errors carry the template's file:line."""

    def fail(message: str, line: int) -> CompileError:
        where = SourceLocation(source.path, line, 1)
        return CompileError(
            [Diagnostic.error(f"template error for cluster {cluster.name}: {message}", where)]
        )

    try:
        env = _environment()
        code = env.compile(source.text, source.path, source.path)
        template = env.template_class.from_code(env, code, env.make_globals(None), None)
        text = template.render(
            cluster=cluster_context(cluster), fleet={"name": fleet_name}, values=dict(values)
        )
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
    if len(text) > MAX_RENDERED_CHARS:
        raise fail("rendered text is larger than 4 MiB", 1)
    return load_stream(text, source.path)


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
            self.diagnostics.append(
                Diagnostic.error(
                    f"template renders different objects for cluster {cluster} than for "
                    f"{self.probe_cluster}; a template may vary an object's content, not "
                    "which objects it yields (kind, namespace, name)",
                    document.locate(""),
                )
            )
            return None
        data: dict[str, Any] = rendered[position].data
        return data


def _same_identity(left: Any, right: Any) -> bool:
    def identity(value: Any) -> tuple[object, ...]:
        if not isinstance(value, dict):
            return (None,)
        meta = value.get("metadata")
        if not isinstance(meta, dict):
            meta = {}
        return (value.get("apiVersion"), value.get("kind"), meta.get("namespace"), meta.get("name"))

    return identity(left) == identity(right)
