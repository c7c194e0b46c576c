"""Command line: flags -> Options, one function per command, exit codes decided here only.

Heavy modules are imported inside the commands so `--help` and `--version` start fast.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from . import __version__
from .errors import CompileError, Diagnostic, UsageError, printable, raise_if_errors, shorten
from .fields import is_digits
from .gcpause import cycle_collection_paused

if TYPE_CHECKING:
    from .compile import Compilation
    from .emit import StatCache, State, StateNames
    from .options import Options
    from .sources import Sources

EXIT_OK, EXIT_DRIFT, EXIT_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
ISSUES_URL = "the kurator-compile issue tracker"

F = TypeVar("F", bound=Callable[..., Any])


class Context:
    def __init__(self, debug: bool, quiet: bool) -> None:
        self.debug = debug
        self.quiet = quiet

    def warn(self, diagnostics: list[Diagnostic]) -> None:
        if self.quiet:
            return
        for diagnostic in diagnostics:
            click.echo(diagnostic.render(), err=True)


def _fail(code: int, message: str) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(code)


@contextmanager
def _exit_codes(ctx: Context) -> Iterator[None]:
    """The one place that turns outcomes into exit codes."""
    try:
        yield
    except CompileError as error:
        for diagnostic in error.diagnostics:
            click.echo(diagnostic.render(), err=True)
        count = len(error.diagnostics)
        _fail(EXIT_INPUT, f"{count} error{'s' if count != 1 else ''}; nothing was written")
    except UsageError as error:
        _fail(EXIT_INPUT, printable(f"error: {error}", newlines=True))
    except KeyboardInterrupt:
        _fail(EXIT_INTERRUPTED, "interrupted")
    except (SystemExit, click.exceptions.Exit, click.ClickException):
        raise
    except Exception as error:  # an unexpected bug: one line, traceback only on request
        if ctx.debug:
            import traceback

            traceback.print_exc()
        _fail(
            EXIT_INTERNAL,
            f"internal error: {type(error).__name__}: {error}. This is a bug in kurator-compile "
            f"{__version__}; please report it to {ISSUES_URL} with the command and inputs "
            "(rerun with --debug for the traceback)",
        )


def _from_plugin() -> bool:
    """Argo CD hands FLEET (and CLUSTER) through the environment: the repository is untrusted."""
    from click.core import ParameterSource

    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return False
    sources = (ctx.get_parameter_source(name) for name in ("fleet", "cluster"))
    return ParameterSource.ENVIRONMENT in sources


def _inside_source_dir(fleet: Path) -> Path:
    """In the plugin, FLEET must resolve (links followed) inside the application's source
    directory, the working directory: `../other-repo/...` or a link out of the checkout would
    read another application's repository."""
    base = Path.cwd().resolve()
    resolved = (base / fleet).resolve()
    if not resolved.is_relative_to(base):
        raise UsageError(
            f"FLEET {fleet.as_posix()!r} resolves to {resolved}, outside the application's "
            f"source directory {base}; the plugin reads only the application's own repository"
        )
    return fleet


def find_fleet(fleet: str | None) -> Path:
    """FLEET, or the only `fleets/*.yaml` of the current directory."""
    if fleet:
        return _inside_source_dir(Path(fleet)) if _from_plugin() else Path(fleet)
    candidates = sorted(Path("fleets").glob("*.yaml"))
    if len(candidates) == 1:
        return _inside_source_dir(candidates[0]) if _from_plugin() else candidates[0]
    if not candidates:
        raise UsageError("no FLEET given and no fleets/*.yaml in the current directory")
    names = ", ".join(p.as_posix() for p in candidates)
    raise UsageError(f"no FLEET given and fleets/ holds several: {names}; name one")


def _common(func: F) -> F:
    func = click.option("--strict", is_flag=True, help="Treat warnings as errors.")(func)
    func = click.option(
        "--crd-schemas",
        "crd_schemas",
        multiple=True,
        type=click.Path(file_okay=False, exists=True, path_type=Path),
        help="Folder of custom resource JSON schemas ({group}/{kind}_{version}.json); repeatable.",
    )(func)
    func = click.option("--loose", is_flag=True, help="Allow unknown fields in emitted objects.")(
        func
    )
    func = click.option(
        "--ignore-missing-schemas",
        "ignore_missing_schemas",
        is_flag=True,
        help="Warn instead of failing on objects whose kind no schema or CRD defines.",
    )(func)
    func = click.option(
        "--no-validate",
        "no_validate",
        is_flag=True,
        help="Skip checking emitted objects against Kubernetes and CRD schemas.",
    )(func)
    func = click.option(
        "--lock",
        "lock_file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="The placement lock (default: FLEET's name with .lock.json, next to it).",
    )(func)
    func = click.option(
        "--allow-outside",
        is_flag=True,
        help="Let resource globs read files outside the repository root.",
    )(func)
    func = click.option(
        "--root",
        type=click.Path(file_okay=False, path_type=Path),
        help="Repository root (default: nearest parent with .git).",
    )(func)
    return click.argument("fleet", required=False, envvar=["ARGOCD_ENV_FLEET", "PARAM_FLEET"])(func)


def _options(root: Path | None, strict: bool, allow_outside: bool, **extra: Any) -> Options:
    from .options import Options

    checks = click.get_current_context().params
    return Options(
        strict=strict,
        allow_outside=allow_outside,
        root=root,
        validate_output=not checks.get("no_validate", False),
        loose=bool(checks.get("loose", False)),
        crd_schemas=tuple(checks.get("crd_schemas", ())),
        ignore_missing_schemas=bool(checks.get("ignore_missing_schemas", False)),
        **extra,
    )


def _parse_shard(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    index, _, count = text.partition("/")
    if not (is_digits(index) and is_digits(count) and 1 <= int(index) <= int(count)):
        raise UsageError(f"--shard takes I/N with 1 <= I <= N, not {text!r}")
    return int(index), int(count)


def _lock_file() -> Path | None:
    lock: Path | None = click.get_current_context().params.get("lock_file")
    return lock


def _sources(fleet: str | None, options: Options) -> Sources:
    from .sources import read_sources

    return read_sources(
        find_fleet(fleet), options.root, options.allow_outside, lock_file=_lock_file()
    )


def _up_to_date(
    cache: StatCache,
    fleet: str | None,
    options: Options,
    code: str,
    output: Path,
    names: StateNames,
) -> bool:
    from .entry import up_to_date

    if cache.globs is None or not cache.fingerprint or not options.layout:
        return False
    return up_to_date(cache, find_fleet(fleet), options, code, output, names, _lock_file())


class _Progress:
    """One status line on stderr for a terminal (nothing otherwise): the phase, the cluster
    counter while rendering and the elapsed time, redrawn by a background ticker so that no
    phase of a slow run is silent; it appears only once a run takes longer than a moment."""

    def __init__(self, enabled: bool, phase: str = "compiling") -> None:
        import threading

        self.enabled = enabled
        self.start = time.monotonic()
        self.status = phase
        self.shown = False
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick, daemon=True)
        if enabled:
            self._ticker.start()

    def __call__(self, done: int, total: int) -> None:
        self.status = f"rendering clusters {done + 1}/{total}"

    def phase(self, status: str) -> None:
        self.status = status

    def _tick(self) -> None:
        while not self._stop.wait(0.2):
            self.draw()

    def draw(self) -> None:
        elapsed = time.monotonic() - self.start
        if elapsed >= 0.5:
            self.shown = True
            click.echo(f"\r\033[K{self.status} ({elapsed:.1f} s)", err=True, nl=False)

    def finish(self) -> None:
        if self.enabled:
            self._stop.set()
            self._ticker.join()
        if self.shown:
            click.echo("\r\033[K", err=True, nl=False)


def _compile(fleet: str | None, options: Options, ctx: Context) -> Compilation:
    return _compile_sources(_sources(fleet, options), options, ctx)


def _compile_sources(sources: Sources, options: Options, ctx: Context) -> Compilation:
    from .compile import compile_fleet

    progress = _Progress(sys.stderr.isatty() and not ctx.quiet)
    try:
        result = compile_fleet(sources, options, progress)
    finally:
        progress.finish()
    ctx.warn(result.warnings)
    return result


def _rescheduling(func: F) -> F:
    """`--reschedule` and `--reschedule-object`: Karmada's WorkloadRebalancer, offline."""
    func = click.option(
        "--reschedule-object",
        "reschedule_objects",
        multiple=True,
        metavar="KIND/NAMESPACE/NAME",
        help="Schedule this object afresh (Fresh mode) instead of from the lock; repeatable.",
    )(func)
    return click.option(
        "--reschedule",
        is_flag=True,
        help="Schedule every object afresh (Fresh mode) instead of from the placement lock.",
    )(func)


def _asked() -> dict[str, Any]:
    params = click.get_current_context().params
    return {
        "reschedule": bool(params.get("reschedule")),
        "reschedule_objects": tuple(params.get("reschedule_objects") or ()),
    }


def _write_lock(sources: Sources, data: bytes) -> str | None:
    """The placement lock, written only after a successful build; where, if it changed."""
    from .lock import write_lock

    path = sources.lock_path
    assert path is not None
    try:
        return os.path.relpath(path) if write_lock(path, data) else None
    except OSError as error:
        raise UsageError(
            f"cannot write the placement lock {os.path.relpath(path)}: {error.strerror}; the "
            "output tree was written, the lock was not"
        ) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kurator-compile")
@click.option("--debug", is_flag=True, help="Show tracebacks of internal errors.")
@click.option("-q", "--quiet", is_flag=True, help="Print no warnings.")
@click.pass_context
def main(click_ctx: click.Context, debug: bool, quiet: bool) -> None:
    """Compile a fleet spec into per-cluster Kubernetes manifests for Argo CD or Flux."""
    click_ctx.obj = Context(debug, quiet)


def _output_option(func: F) -> F:
    return click.option(
        "-o",
        "--output",
        type=click.Path(path_type=Path),
        help="Output directory (default: rendered/ at the repository root).",
    )(func)


def _layout_option(func: F) -> F:
    from .tree import LAYOUTS

    return click.option(
        "--layout",
        type=click.Choice(LAYOUTS),
        help="One file per object, or one multi-document file per cluster (default: the "
        "layout OUT's state records, else per-object).",
    )(func)


def _layout(
    asked: str | None, output: Path, names: StateNames | None = None
) -> tuple[str, State | None]:
    """`--layout`, else what the last build of OUT wrote: switching is always asked for. And
    the state file read to learn it (None when `--layout` was given, or there is none):
    parsed once, for `verified_state` too."""
    if asked is not None:
        return asked, None
    from .emit import StateNames, recorded_state
    from .tree import PER_OBJECT

    state = recorded_state(output, names or StateNames())
    return (state.layout if state is not None else PER_OBJECT), state


def _output_dir(output: Path | None, fleet: str | None, root: Path | None) -> Path:
    """`-o`, else `rendered/` at the repository root, wherever the command runs from."""
    if output is not None:
        return output
    from .entry import rendered_dir

    return rendered_dir(find_fleet(fleet), root)


def _owner(fleet: str | None, root: Path | None, name: str) -> dict[str, str]:
    """What the state file records as the output's fleet: its name and file."""
    from .sources import display_path, find_root

    path = find_fleet(fleet).resolve()
    return {"name": name, "file": display_path(path, (root or find_root(path)).resolve())}


def _placed_files(result: Compilation) -> set[str]:
    """File names of every object placed anywhere in the fleet, this shard's or not."""
    from .render import object_filename

    return {object_filename(p.resource.key) for p in result.placements if p.replicas}


def _warn_foreign(
    ctx: Context, output: Path, ours: Iterable[str], listed_exactly: bool = False
) -> list[str]:
    """`listed_exactly`: a no-change check has just counted each cluster folder's entries."""
    from .emit import foreign_files

    found = [] if listed_exactly else foreign_files(output, ours)
    if found and not ctx.quiet:
        click.echo(
            f"warning: {len(found)} file{'s' if len(found) != 1 else ''} in cluster folders "
            f"of {output} that kurator-compile did not write (Argo CD and Flux apply them too; "
            f"they are never deleted): {shorten(found)}",
            err=True,
        )
    return found


@main.command()
@_common
@_output_option
@click.option("--kustomization", is_flag=True, help="Also write a kustomization.yaml per cluster.")
@_layout_option
@click.option(
    "--allow-cluster-removal",
    is_flag=True,
    help="Allow deleting the folder of a cluster that left the fleet.",
)
@click.option(
    "--allow-removal",
    is_flag=True,
    help="Allow an object that the last build wrote to be placed on no cluster any more.",
)
@click.option(
    "--shard",
    metavar="I/N",
    help="Build only shard I of N (clusters by name, round robin) for a CI matrix.",
)
@click.option(
    "--fail-on-change",
    is_flag=True,
    help="Exit 1 if anything was written or removed (for pre-commit, like a formatter).",
)
@_rescheduling
@click.pass_obj
def build(
    ctx: Context,
    /,
    fleet: str | None,
    root: Path | None,
    strict: bool,
    allow_outside: bool,
    output: Path | None,
    kustomization: bool,
    layout: str | None,
    allow_cluster_removal: bool,
    allow_removal: bool,
    shard: str | None,
    fail_on_change: bool,
    **validation: Any,
) -> None:
    """Write OUTPUT/clusters/<cluster>/ for every cluster of FLEET."""
    with _exit_codes(ctx):
        from .emit import StatCache, StateNames, verified_state, write_tree
        from .sources import fingerprint, with_lock
        from .unchanged import code_digest

        started = time.monotonic()
        shard_of = _parse_shard(shard)
        names = StateNames.for_shard(shard_of)
        output = _output_dir(output, fleet, root)
        code = code_digest()
        cache = StatCache.load(output, names)
        # the layout the cache says the state records: the state need not be parsed
        options = _options(
            root,
            strict,
            allow_outside,
            kustomization=kustomization,
            shard=shard_of,
            layout=layout or cache.layout,
            **_asked(),
        )
        if _up_to_date(cache, fleet, options, code, output, names):
            if not ctx.quiet:
                for line in cache.warnings:
                    click.echo(line, err=True)
            _warn_foreign(ctx, output, cache.paths(), cache.listed_exactly)
            if not ctx.quiet:
                click.echo(f"{output} is up to date: 0 written, 0 removed", err=True)
            return
        del cache  # its listings are held no longer: the writer reads them again
        recorded_layout, recorded = _layout(layout, output, names)
        options = replace(options, layout=recorded_layout)
        sources = _sources(fleet, options)
        verified = verified_state(output, _inputs_digest(sources, options), names, recorded)
        if verified is not None:
            # Inputs as the build that wrote OUT had them (the state file says), and every
            # file as it wrote them: nothing to compile. Its warnings are not repeated.
            committed = verified.state
            _warn_foreign(ctx, output, committed.files, verified.listed_exactly)
            _record_stats(output, committed, sources, options, names)
            if not ctx.quiet:
                click.echo(f"{output} is up to date: 0 written, 0 removed", err=True)
            return
        progress = _Progress(sys.stderr.isatty() and not ctx.quiet)
        from .gcpause import freeze_live_objects, unfreeze_live_objects

        try:
            from .compile import compile_fleet

            result = compile_fleet(sources, options, progress)
            freeze_live_objects()
            # the inputs of the next build include the placement lock this one writes
            next_sources = with_lock(sources, result.lock.decode("utf-8"))
            inputs = fingerprint(next_sources, options, code)
            progress.phase(f"writing {len(result.tree)} files")
            report = write_tree(
                output,
                result.tree,
                allow_cluster_removal=allow_cluster_removal,
                fingerprint=inputs,
                warnings=[w.render() for w in result.warnings],
                names=names,
                globs=(sources.globs.resources, sources.globs.overlays),
                allow_removal=allow_removal,
                placed=_placed_files(result) if shard_of else (),
                owner=_owner(fleet, root, result.fleet.name),
                layout=options.layout,
                contents=result.contents,
                inputs=_inputs_digest(next_sources, options),
            )
        finally:
            unfreeze_live_objects()
            progress.finish()
        ctx.warn(result.warnings)
        foreign = _warn_foreign(ctx, output, result.tree)
        for path in report.kept:
            click.echo(
                f"warning: {output / path} is no longer part of the tree, but its bytes are not "
                "those kurator-compile recorded: left in place",
                err=True,
            )
        locked = _write_lock(sources, result.lock)
        if not ctx.quiet:
            from .emit import clusters_of

            clusters = len(result.fleet.clusters)
            scope = f"{clusters} clusters"
            if shard_of:
                scope = f"{len(clusters_of(result.tree))} of {scope} (shard {shard})"
            count = len(result.warnings) + (1 if foreign else 0)
            click.echo(
                f"{len(result.tree)} files for {scope} in {output}: {len(report.written)} "
                f"written, {len(report.removed)} removed, {report.unchanged} unchanged; "
                f"{count} warning{'s' if count != 1 else ''}, "
                f"{time.monotonic() - started:.1f} s",
                err=True,
            )
            if locked:
                click.echo(f"placement lock written: {locked}", err=True)
        if fail_on_change and (report.written or report.removed or locked):
            sys.exit(EXIT_DRIFT)


@main.command()
@_common
@_output_option
@click.option("--kustomization", is_flag=True, help="Expect a kustomization.yaml per cluster.")
@_layout_option
@click.option("--diff", "show_diff", is_flag=True, help="Print a unified diff of the drift.")
@click.pass_obj
def check(
    ctx: Context,
    /,
    fleet: str | None,
    root: Path | None,
    strict: bool,
    allow_outside: bool,
    output: Path | None,
    kustomization: bool,
    layout: str | None,
    show_diff: bool,
    **validation: Any,
) -> None:
    """Exit 1 if OUTPUT is not what `build` would write; writes nothing."""
    with _exit_codes(ctx):
        from .emit import (
            StatCache,
            StateNames,
            compare_tree,
            foreign_files,
            read_existing,
            verified_state,
        )
        from .unchanged import code_digest

        output = _output_dir(output, fleet, root)
        cache = StatCache.load(output)
        options = _options(
            root, strict, allow_outside, kustomization=kustomization, layout=layout or cache.layout
        )
        if _up_to_date(cache, fleet, options, code_digest(), output, StateNames()):
            # Inputs (the placement lock among them) and output are exactly as the last build
            # left them: that build's tree.
            if not ctx.quiet:
                for line in cache.warnings:
                    click.echo(line, err=True)
            if not cache.listed_exactly:
                _report_foreign(output, foreign_files(output, cache.paths()))
            if not ctx.quiet:
                count = sum(len(listed) for _, listed, _, _ in cache.folders)
                click.echo(f"{output} is up to date ({count} files)", err=True)
            return
        recorded_layout, recorded = _layout(layout, output)
        options = replace(options, layout=recorded_layout)
        sources = _sources(fleet, options)
        verified = verified_state(output, _inputs_digest(sources, options), state=recorded)
        if verified is not None:
            # A fresh clone: no stat cache, but the committed state records these very inputs
            # and every file holds the bytes it recorded. Its warnings are not repeated.
            committed = verified.state
            if not verified.listed_exactly:
                _report_foreign(output, foreign_files(output, committed.files))
            if not ctx.quiet:
                click.echo(f"{output} is up to date ({len(committed.files)} files)", err=True)
            return
        result = _compile_sources(sources, options, ctx)
        drift = compare_tree(output, result.tree)
        # a file the last build wrote (of the other layout, say) is drift, not someone else's
        foreign = foreign_files(output, [*result.tree, *drift.removed])
        _report_foreign(output, foreign)
        lock = sources.lock
        lock_stale = lock is None or lock.text.encode("utf-8") != result.lock
        if not drift and not lock_stale:
            if not ctx.quiet:
                click.echo(f"{output} is up to date ({len(result.tree)} files)", err=True)
            return
        if lock_stale:
            assert sources.lock_path is not None
            shown = os.path.relpath(sources.lock_path)
            click.echo(f"{'added' if lock is None else 'changed'}: {shown}")
            click.echo(
                f"placement lock {shown} is not what `kurator-compile build` would write; run "
                "it and commit the lock",
                err=True,
            )
        if not drift:
            sys.exit(EXIT_DRIFT)
        for label, paths in (
            ("added", drift.added),
            ("changed", drift.changed),
            ("removed", drift.removed),
        ):
            for path in paths:
                click.echo(f"{label}: {output / path}")
        if drift.interrupted:
            click.echo(f"interrupted: {output / drift.interrupted} (a build that did not finish)")
        click.echo(
            f"{output} is stale: {len(drift.added)} to add, {len(drift.changed)} to change, "
            f"{len(drift.removed)} to remove; run `kurator-compile build` and commit the result",
            err=True,
        )
        if show_diff:
            from .diff import render_patch

            paths = drift.added + drift.changed + drift.removed
            before = {p: read_existing(output, p) or b"" for p in paths}
            after = {p: result.tree.get(p, b"") for p in paths}
            click.echo(render_patch(before, after), nl=False)
        sys.exit(EXIT_DRIFT)


def _report_foreign(output: Path, foreign: Sequence[str]) -> None:
    """`check` fails on files nobody wrote in cluster folders: Argo CD and Flux apply them."""
    if not foreign:
        return
    for path in foreign:
        click.echo(f"not written by kurator-compile: {output / path}")
    click.echo(
        f"{output} holds {len(foreign)} file{'s' if len(foreign) != 1 else ''} in cluster "
        "folders that kurator-compile did not write; Argo CD and Flux would apply them. Move "
        "them into the fleet's inputs or delete them",
        err=True,
    )
    sys.exit(EXIT_DRIFT)


@main.command()
@_common
@click.option(
    "--cluster",
    envvar=["ARGOCD_ENV_CLUSTER", "PARAM_CLUSTER"],
    help="The cluster to render (Argo CD: env CLUSTER or the plugin parameter cluster).",
)
@click.option(
    "--allow-empty",
    is_flag=True,
    envvar=["ARGOCD_ENV_ALLOW_EMPTY", "PARAM_ALLOW_EMPTY"],
    help="Allow a cluster that receives no objects.",
)
@click.option(
    "--kube-version",
    envvar="KUBE_VERSION",
    help="The destination's Kubernetes version, to validate against (Argo CD sets it).",
)
@click.option(
    "--kube-api-versions",
    envvar="KUBE_API_VERSIONS",
    help="Comma-separated API versions the destination serves (Argo CD sets it).",
)
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="KURATOR_COMPILE_CACHE_DIR",
    help="Where rendered clusters are kept by input digest (default: $XDG_CACHE_HOME/"
    "kurator-compile, else ~/.cache/kurator-compile).",
)
@click.option("--no-cache", is_flag=True, help="Neither read nor fill the render cache.")
@click.pass_obj
def render(
    ctx: Context,
    /,
    fleet: str | None,
    root: Path | None,
    strict: bool,
    allow_outside: bool,
    cluster: str | None,
    allow_empty: bool,
    kube_version: str | None,
    kube_api_versions: str | None,
    cache_dir: Path | None,
    no_cache: bool,
    **validation: Any,
) -> None:
    """Print one cluster's objects as a YAML stream; writes nothing but its cache."""
    with _exit_codes(ctx):
        if not cluster:
            raise UsageError(
                "no cluster to render: pass --cluster NAME (in Argo CD, the plugin parameter "
                "`cluster` (PARAM_CLUSTER) or the Application's env CLUSTER (ARGOCD_ENV_CLUSTER))"
            )
        options = _options(root, strict, allow_outside, only_cluster=cluster)
        asked = _Destination(kube_version, kube_api_versions, allow_empty)
        cache = None
        if not no_cache:
            from .rendercache import RenderCache, default_dir, max_bytes

            cache = RenderCache(cache_dir or default_dir(), max_bytes())
            hit = _cached_render(cache, fleet, options, asked)
            if hit is not None:
                if not ctx.quiet:
                    for line in hit.warnings:
                        click.echo(line, err=True)
                sys.stdout.write(hit.stream)
                return
        with cycle_collection_paused():
            _render_uncached(ctx, fleet, options, cluster, asked, cache)


def _render_uncached(
    ctx: Context, fleet: str | None, options: Options, cluster: str, asked: Any, cache: Any
) -> None:
    """Compile, print one cluster, then fill the cache (when there is one) with the others."""
    sources = _sources(fleet, options)
    rendered = _render_one(_analysis(sources, options), options, cluster, asked)
    ctx.warn(list(rendered.diagnostics))
    if rendered.empty and not asked.allow_empty:
        raise UsageError(
            f"cluster {cluster!r} receives no objects; an empty stream would make Argo CD "
            "prune everything it runs (pass --allow-empty, or the plugin parameter "
            "allow-empty, if that is intended)"
        )
    sys.stdout.write(rendered.stream)
    if cache is not None and not sources.templates:
        try:
            digest = _fleet_digest(fleet)
            _fill_render_cache(cache, sources, options, asked, cluster, rendered, digest)
        except (CompileError, OSError):
            pass  # the stream is out; a cache that cannot be filled is only slower


def _analysis(sources: Sources, options: Options) -> Any:
    from .compile import analyse

    return analyse(sources, options)


class _Destination:
    """What Argo CD tells `render` about the destination, part of the cache key."""

    def __init__(self, kube_version: str | None, api_versions: str | None, empty: bool) -> None:
        self.kube_version = kube_version
        self.api_versions = api_versions
        self.allow_empty = empty

    def __repr__(self) -> str:
        return f"{self.kube_version!r} {self.api_versions!r} {self.allow_empty!r}"


class _Rendered:
    """One cluster's stream; its warnings: the fleet's, then its own objects' (validation)."""

    def __init__(
        self,
        analysis: Any,
        stream: str,
        shared: Sequence[Diagnostic],
        own: Sequence[Diagnostic],
        empty: bool,
    ) -> None:
        self.analysis = analysis
        self.stream = stream
        self.shared = tuple(shared)
        self.diagnostics = (*shared, *own)
        self.empty = empty


def _render_one(analysis: Any, options: Options, cluster: str, asked: _Destination) -> _Rendered:
    """One cluster's stream and warnings; CompileError on its errors."""
    from .compile import finish_overlays, output_checker
    from .render import cluster_objects, render_stream

    objects = cluster_objects(analysis.fleet, analysis.placements, cluster, analysis.stage)
    shared = [*analysis.warnings, *finish_overlays(analysis, options)]
    checker = output_checker(analysis)
    _check_at_destination(checker, analysis, cluster, objects, asked)
    own = checker.finish(options)
    raise_if_errors(_unserved(objects, cluster, asked.api_versions))
    return _Rendered(analysis, render_stream(objects), shared, own, not objects)


def _check_at_destination(
    checker: Any, analysis: Any, cluster: str, objects: Sequence[Any], asked: _Destination
) -> None:
    """Check a cluster's objects against the Kubernetes version Argo CD says the destination
    runs (KUBE_VERSION), else the cluster's own."""
    target = analysis.fleet.folder(cluster)
    assert target is not None
    minor = destination_minor(asked.kube_version) if asked.kube_version else None
    if minor:
        target = replace(target, kube_version=minor)
    for obj in objects:
        checker.check_object(obj, target)


def _portable_fingerprint(sources: Sources, options: Options, code: str) -> str:
    """Inputs, compiler and options, wherever the checkout is (Argo CD unpacks each render
    of a revision into a new folder, CI clones afresh): paths are the root-relative ones."""
    from .sources import fingerprint

    portable = replace(options, only_cluster=None, root=None)
    return fingerprint(replace(sources, root=Path(".")), portable, code)


def _render_key(sources: Sources, options: Options, asked: _Destination) -> str:
    from .unchanged import code_digest

    return _portable_fingerprint(sources, options, f"{__version__} {code_digest()} {asked!r}")


def _inputs_digest(sources: Sources, options: Options) -> str:
    """What the committed state file records of a build's inputs: the same in every clone and
    every installation of the same compiler (its files by content, not by mtime)."""
    from .sources import code_content_digest

    return _portable_fingerprint(sources, options, f"{__version__} {code_content_digest()}")


def _record_stats(
    output: Path, state: State, sources: Sources, options: Options, names: StateNames
) -> None:
    """After a build found OUT up to date by its state file, the stat cache that lets the
    next one trust sizes and mtimes instead of reading every file again."""
    from .emit import StatCache, locked
    from .sources import fingerprint
    from .unchanged import code_digest

    try:
        with locked(output):
            globs = (sources.globs.resources, sources.globs.overlays)
            inputs = fingerprint(sources, options, code_digest())
            paths = dict.fromkeys(sorted(state.files), b"")
            StatCache.record(output, paths, inputs, (), names, globs, layout=state.layout)
    except (OSError, CompileError):
        pass  # only a hint: the next build reads the files again


def _fleet_digest(fleet: str | None) -> str:
    import hashlib

    return hashlib.sha256(find_fleet(fleet).read_bytes()).hexdigest()


def _cached_render(cache: Any, fleet: str | None, options: Options, asked: _Destination) -> Any:
    """The stored outcome of this exact revision and these options, if any. The inputs are
    found with the globs that the fleet file's text names (remembered by its digest), so a
    hit parses no YAML."""
    from .sources import Globs, read_sources

    try:
        globs = cache.globs(_fleet_digest(fleet))
        if globs is None:
            return None
        sources = read_sources(
            find_fleet(fleet), options.root, options.allow_outside, Globs(*globs), _lock_file()
        )
    except (CompileError, OSError):
        return None  # the full path reports it, positioned
    return cache.load(_render_key(sources, options, asked), options.only_cluster)


def _fill_render_cache(
    cache: Any,
    sources: Sources,
    options: Options,
    asked: _Destination,
    cluster: str,
    rendered: _Rendered,
    fleet_digest: str,
) -> None:
    """Every other cluster of the fleet rendered as `render --cluster` would, stored with the
    one just printed. A cluster whose render would fail is not stored (it fails afresh)."""
    from .compile import output_checker
    from .render import Variants, cluster_objects, folder_names, render_stream
    from .rendercache import Rendered

    analysis = rendered.analysis
    stage = analysis.stage
    shared = [d.render() for d in rendered.shared]
    stored = {cluster: Rendered(rendered.stream, tuple(d.render() for d in rendered.diagnostics))}
    whole = replace(options, only_cluster=None, shard=None)
    checker = output_checker(analysis)
    variants = Variants()
    errors_before = len(stage.diagnostics)
    for name in folder_names(analysis.fleet, whole):
        if name in stored:
            continue
        objects = cluster_objects(analysis.fleet, analysis.placements, name, stage, variants)
        if len(stage.diagnostics) != errors_before:
            break  # an overlay fails here: this and later clusters are left to fail afresh
        _check_at_destination(checker, analysis, name, objects, asked)
        found = checker.take(options)
        if any(d.is_error for d in found) or _unserved(objects, name, asked.api_versions):
            continue
        if not objects and not asked.allow_empty:
            continue
        warnings = (*shared, *(d.render() for d in found))
        stored[name] = Rendered(render_stream(objects), warnings)
    cache.store(_render_key(sources, options, asked), stored)
    cache.remember_globs(fleet_digest, sources.globs.resources, sources.globs.overlays)


def destination_minor(text: str) -> str | None:
    """`1.29` from what Argo CD puts in KUBE_VERSION: `1.29.4`, `v1.29.4+k3s1`, or on older
    releases and some providers `1.29+`; None when it names no version."""
    import re

    match = re.match(r"v?(\d+)\.(\d+)", text.strip())
    return f"{match.group(1)}.{match.group(2)}" if match else None


def _unserved(objects: Sequence[Any], cluster: str, api_versions: str | None) -> list[Diagnostic]:
    """Objects whose API the destination does not serve, by Argo CD's KUBE_API_VERSIONS."""
    served = {v.strip() for v in (api_versions or "").split(",") if v.strip()}
    if not served:
        return []
    found = []
    for obj in objects:
        api_version, kind = obj.data.get("apiVersion"), obj.data.get("kind")
        if api_version in served or f"{api_version}/{kind}" in served or obj.resource is None:
            continue
        found.append(
            Diagnostic.error(
                f"cluster {cluster}: {obj.key}: the destination does not serve {api_version} "
                "(not in KUBE_API_VERSIONS, which Argo CD reads from the cluster)",
                obj.resource.locate("/apiVersion"),
            )
        )
    return found


@main.command()
@_common
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "markdown"]),
    default="table",
    show_default=True,
)
@click.option("--explain", metavar="KIND/NAMESPACE/NAME", help="Explain one object's placement.")
@click.option(
    "--cluster",
    "explain_cluster",
    metavar="NAME",
    help="With --explain: also list the overlays and overrides that change it on NAME.",
)
@_rescheduling
@click.pass_obj
def plan(
    ctx: Context,
    /,
    fleet: str | None,
    root: Path | None,
    strict: bool,
    allow_outside: bool,
    fmt: str,
    explain: str | None,
    explain_cluster: str | None,
    **validation: Any,
) -> None:
    """Show which objects go to which clusters, with how many replicas."""
    with _exit_codes(ctx):
        from .compile import analyse
        from .report import plan_json, plan_markdown, plan_moves, plan_table

        options = _options(root, strict, allow_outside, **_asked())
        analysis = analyse(_sources(fleet, options), options)
        placements = analysis.placements
        ctx.warn([*analysis.warnings, *analysis.advice])
        if explain:
            click.echo(_explain(analysis, explain, explain_cluster), nl=False)
            return
        if fmt == "json":
            found = [*analysis.warnings, *analysis.advice]
            click.echo(plan_json(placements, found), nl=False)
            return
        render_plan = {"table": plan_table, "markdown": plan_markdown}[fmt]
        click.echo(render_plan(placements), nl=False)
        click.echo(plan_moves(placements, fmt == "markdown"), nl=False)


def _explain(analysis: Any, wanted: str, cluster: str | None) -> str:
    if len(wanted.split("/")) not in (2, 3):
        raise UsageError(f"--explain takes KIND/NAMESPACE/NAME or KIND/NAME, not {wanted!r}")
    parts = wanted.split("/")
    kind, name = parts[0], parts[-1]
    namespace = parts[1] if len(parts) == 3 else None
    matches = [p for p in analysis.placements if p.resource.key.matches(wanted)]
    if not matches:
        return _explain_kurator(analysis, kind, namespace, name, wanted)
    lines: list[str] = []
    for placement in matches:
        lines.append(f"{placement.resource.key} ({placement.resource.locate().file})")
        lines.extend(f"  {line}" for line in placement.explanation)
        if not placement.explanation:
            cells = ", ".join(f"{c}={r}" for c, r in sorted(placement.replicas.items()))
            lines.append(f"  clusters: {cells or '(none)'}")
        if cluster is not None:
            lines.extend(_changes_on(analysis, placement, cluster))
    return "\n".join(lines) + "\n"


def _explain_kurator(
    analysis: Any, kind: str, namespace: str | None, name: str, wanted: str
) -> str:
    """One of Kurator's own documents: what Kurator makes from it, and where."""
    from .stack.kurator import explain_document, kurator_documents

    for doc in kurator_documents(analysis.fleet):
        doc_kind = str(doc.data.get("kind", ""))
        group = str(doc.data.get("apiVersion", "")).rpartition("/")[0]
        meta = doc.data.get("metadata") or {}
        doc_namespace = str(meta.get("namespace") or "default")
        if kind.lower() not in (doc_kind.lower(), f"{doc_kind}.{group}".lower()):
            continue
        if meta.get("name") != name or doc_namespace != (namespace or "default"):
            continue
        loc = doc.locate("")
        header = f"{doc_kind}.{group}/{doc_namespace}/{name} ({loc.file}:{loc.line})"
        lines = explain_document(analysis.fleet, analysis.placements, doc)
        return "\n".join([header, *(f"  {line}" for line in lines)]) + "\n"
    for resource in analysis.references:
        if resource.key.matches(wanted):
            return (
                f"{resource.key} ({resource.locate().file})\n  read by Kurator from a live "
                "cluster (a rollout's Service or Namespace, a plugin's Secret): needed to "
                "compile, never placed\n"
            )
    raise UsageError(f"no input object {wanted!r}")


def _tree_at_revision(revision: str, fleet_path: Path, options: Options) -> dict[str, bytes]:
    """What the fleet compiled to at a git revision, built in a temporary worktree."""
    import subprocess
    import tempfile

    from .compile import compile_fleet
    from .sources import read_sources

    def git(*args: str, cwd: Path) -> str:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise UsageError(f"git {' '.join(args)}: {done.stderr.strip() or 'failed'}")
        return done.stdout.strip()

    fleet_path = fleet_path.resolve()
    top = Path(git("rev-parse", "--show-toplevel", cwd=fleet_path.parent)).resolve()
    with tempfile.TemporaryDirectory(prefix="kurator-diff-") as temporary:
        worktree = Path(temporary) / "tree"
        git("worktree", "add", "--detach", "--quiet", str(worktree), revision, cwd=top)
        try:
            fleet_there = worktree / fleet_path.relative_to(top)
            if not fleet_there.exists():
                raise UsageError(f"{fleet_path.relative_to(top)} does not exist at {revision}")
            root = worktree / options.root.resolve().relative_to(top) if options.root else None
            sources = read_sources(fleet_there, root, options.allow_outside)
            return compile_fleet(sources, options).tree
        finally:
            git("worktree", "remove", "--force", str(worktree), cwd=top)


@main.command(name="diff")
@_common
@click.option(
    "--against",
    type=click.Path(file_okay=False, path_type=Path),
    help="An output directory to compare with (e.g. the committed rendered/).",
)
@click.option("--against-ref", metavar="REV", help="A git revision to compile and compare with.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown"]),
    default="text",
    show_default=True,
)
@click.option("--patch", is_flag=True, help="Also print the unified diff.")
@click.option(
    "--kustomization", is_flag=True, help="Compile with a kustomization.yaml per cluster."
)
@click.pass_obj
def diff_command(
    ctx: Context,
    /,
    fleet: str | None,
    root: Path | None,
    strict: bool,
    allow_outside: bool,
    against: Path | None,
    against_ref: str | None,
    fmt: str,
    patch: bool,
    kustomization: bool,
    **validation: Any,
) -> None:
    """Compare what this checkout compiles to with a directory or another revision.

    Exit 1 when they differ, 0 when they do not.
    """
    with _exit_codes(ctx):
        from .diff import diff_trees, read_tree, render_markdown, render_patch, render_text
        from .report import move_reasons

        if (against is None) == (against_ref is None):
            raise UsageError("give exactly one of --against DIR or --against-ref REV")
        options = _options(root, strict, allow_outside, kustomization=kustomization)
        compiled = _compile(fleet, options, ctx)
        current = compiled.tree
        if against is not None:
            before = read_tree(against)
        else:
            assert against_ref is not None
            before = _tree_at_revision(against_ref, find_fleet(fleet), options)
        changes = diff_trees(before, current, move_reasons(compiled.placements))
        click.echo((render_markdown if fmt == "markdown" else render_text)(changes), nl=False)
        if patch:
            click.echo(render_patch(before, current), nl=False)
        if changes:
            sys.exit(EXIT_DRIFT)


def _changes_on(analysis: Any, placement: Any, cluster: str) -> list[str]:
    """Which overlays and overrides changed the object on one cluster, in the order applied."""
    from .render import cluster_objects

    if analysis.fleet.folder(cluster) is None:
        raise UsageError(f"the fleet has no cluster {cluster!r}")
    if cluster not in placement.replicas:
        return [f"  on {cluster}: not placed there"]
    cluster_objects(analysis.fleet, analysis.placements, cluster, analysis.stage)
    index = analysis.placements.index(placement)
    steps = analysis.stage.trace.get((index, cluster), [])
    if not steps:
        return [f"  on {cluster}: no overlay or override changes it"]
    lines = [f"    {n}. {what} ({at.file}:{at.line})" for n, (what, at) in enumerate(steps, 1)]
    return [f"  on {cluster}, in order:", *lines]


@main.command()
@_common
@click.pass_obj
def validate(
    ctx: Context,
    /,
    fleet: str | None,
    root: Path | None,
    strict: bool,
    allow_outside: bool,
    **validation: Any,
) -> None:
    """Run every check `build` runs (output schemas included); writes nothing."""
    with _exit_codes(ctx):
        options = _options(root, strict, allow_outside)
        result = _compile(fleet, options, ctx)
        found, placements = result.fleet, result.placements
        if not ctx.quiet:
            click.echo(
                f"{found.name}: {len(found.clusters)} clusters, {len(placements)} objects, "
                f"{len(found.policies)} policies: valid",
                err=True,
            )
