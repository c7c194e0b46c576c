"""The console script. A `build` or `check` whose output is as the last build left it, from
the same inputs, is answered here before click and the command-line module are imported
(they were a third of such a run); every other command line, and any doubt, goes to the CLI
(cli.py), which makes the same check again and does everything else.

Only plain command lines are answered here: the flags below, `--opt value` or `--opt=value`,
at most one FLEET; anything else (`--root`, `--shard`, `--help`, a FLEET from Argo CD's
environment, a stray file in a cluster folder to report) is the CLI's.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # not typing's: this module imports only os and sys
if TYPE_CHECKING:
    from pathlib import Path

    from .emit import StatCache, StateNames
    from .options import Options

EXIT_INTERRUPTED = 130
# Flags that leave the answer of an unchanged run as it is, or go into its Options (below).
_FLAGS = {
    "build": {"--allow-cluster-removal", "--allow-removal", "--fail-on-change"},
    "check": {"--diff"},
}
_OPTION_FLAGS = {
    "--strict",
    "--allow-outside",
    "--kustomization",
    "--no-validate",
    "--loose",
    "--ignore-missing-schemas",
}
_VALUES = {"-o": "--output", "--output": "--output", "--lock": "--lock", "--layout": "--layout"}
_GLOBAL_FLAGS = {"-q": "--quiet", "--quiet": "--quiet", "--debug": "--debug"}


def main() -> None:
    """`kurator-compile`."""
    _answer_or_cli(None)


def run() -> None:
    """`python -m kurator_compile`: the same commands; usage errors exit 2 as with click."""
    _answer_or_cli(os.environ.get("KURATOR_COMPILE_PROG", "kurator-compile"))


def _answer_or_cli(prog_name: str | None) -> None:
    try:
        answered = answer(sys.argv[1:])
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(EXIT_INTERRUPTED)
    if answered:
        return
    from .cli import main as cli

    cli(prog_name=prog_name)


def _parse(argv: list[str]) -> tuple[str, set[str], dict[str, str], str | None] | None:
    """(command, flags, values, FLEET) of a plain build or check command line, else None."""
    flags: set[str] = set()
    at = 0
    while at < len(argv) and argv[at] in _GLOBAL_FLAGS:
        flags.add(_GLOBAL_FLAGS[argv[at]])
        at += 1
    if at == len(argv) or argv[at] not in _FLAGS:
        return None
    command, words = argv[at], argv[at + 1 :]
    values: dict[str, str] = {}
    fleet: str | None = None
    known_flags = _FLAGS[command] | _OPTION_FLAGS
    at = 0
    while at < len(words):
        word = words[at]
        at += 1
        name, equals, value = word.partition("=")
        if word in known_flags:
            flags.add(word)
        elif name in _VALUES and name.startswith("--") and equals:
            values[_VALUES[name]] = value
        elif word in _VALUES and at < len(words):
            values[_VALUES[word]] = words[at]
            at += 1
        elif word.startswith("-") or fleet is not None:
            return None  # another option, `--`, a second FLEET: the CLI's
        else:
            fleet = word
    if any(not value or value.startswith("-") for value in values.values()):
        return None
    if values.get("--layout", "per-object") not in ("per-object", "per-cluster"):
        return None
    return command, flags, values, fleet


def answer(argv: list[str]) -> bool:
    """Answer `argv` if it is a plain build or check of an output that is up to date (the
    same messages and exit status as the CLI's); False when the CLI must run."""
    parsed = _parse(argv)
    if parsed is None or os.environ.keys() & {"ARGOCD_ENV_FLEET", "PARAM_FLEET"}:
        return False
    command, flags, values, fleet = parsed
    lock = values.get("--lock")
    if lock is not None and os.path.isdir(lock):
        return False  # click refuses it, with its message
    fleet_path = only_fleet(fleet)
    if fleet_path is None:
        return False
    from . import unchanged

    try:
        found = unchanged.answer(
            flags, values.get("--layout"), values.get("--output"), lock, fleet_path
        )
    except unchanged.NotPlain:
        return _answer_with_the_compilers_modules(command, flags, values, fleet_path, lock)
    return found is not None and _done(command, "--quiet" in flags, *found)


def _answer_with_the_compilers_modules(
    command: str, flags: set[str], values: dict[str, str], fleet: str, lock: str | None
) -> bool:
    """`answer` for what the plain reader leaves (globs with `**`, links among the inputs,
    an OUT spelled otherwise than pathlib spells it): sources.py and emit.py decide."""
    from pathlib import Path

    from .emit import StatCache, StateNames
    from .errors import CompileError
    from .options import Options
    from .unchanged import code_digest

    fleet_path = Path(fleet)
    try:
        given = values.get("--output")
        output = Path(given) if given is not None else rendered_dir(fleet_path, None)
        names = StateNames()
        cache = StatCache.load(output, names)
        if not cache.fingerprint:
            return False  # no stat cache (a fresh clone): the CLI checks the state file
        options = Options(
            strict="--strict" in flags,
            allow_outside="--allow-outside" in flags,
            validate_output="--no-validate" not in flags,
            loose="--loose" in flags,
            ignore_missing_schemas="--ignore-missing-schemas" in flags,
            kustomization="--kustomization" in flags,
            layout=values.get("--layout") or cache.layout,
        )
        lock_file = Path(lock) if lock is not None else None
        if not up_to_date(cache, fleet_path, options, code_digest(), output, names, lock_file):
            return False
    except (CompileError, OSError):
        return False  # the CLI reports it
    if not cache.listed_exactly:
        return False  # the CLI lists the stray files
    count = sum(len(listed) for _, listed, _, _ in cache.folders)
    return _done(command, "--quiet" in flags, str(output), count, cache.warnings)


def _done(command: str, quiet: bool, output: str, count: int, warnings: tuple[str, ...]) -> bool:
    """Print what the CLI prints for an up-to-date OUT (False: the stream cannot)."""
    if quiet:
        return True
    if command == "build":
        done = f"{output} is up to date: 0 written, 0 removed"
    else:
        done = f"{output} is up to date ({count} files)"
    text = "".join(f"{line}\n" for line in (*warnings, done))
    try:
        text.encode(sys.stderr.encoding or "utf-8")
    except (UnicodeEncodeError, LookupError):
        return False  # click's echo replaces what the stream cannot encode
    sys.stderr.write(text)
    sys.stderr.flush()
    return True


def only_fleet(fleet: str | None) -> str | None:
    """FLEET, or the only `fleets/*.yaml` of the current directory as the CLI finds it
    (pathlib's glob: hidden files too); None when there is none or several, an error the
    CLI reports."""
    if fleet:
        return fleet
    try:
        names = sorted(name for name in os.listdir("fleets") if name.endswith(".yaml"))
    except OSError:
        return None
    return f"fleets/{names[0]}" if len(names) == 1 else None


def rendered_dir(fleet: Path, root: Path | None) -> Path:
    """Where output goes without `-o`: `rendered/` at the repository root, wherever the
    command runs from."""
    from pathlib import Path

    from .unchanged import rendered_dir as rendered

    return Path(rendered(str(fleet), None if root is None else str(root)))


def up_to_date(
    cache: StatCache,
    fleet: Path,
    options: Options,
    code: str,
    output: Path,
    names: StateNames,
    lock_file: Path | None,
) -> bool:
    """Inputs and output as the last build left them? Reads every input again, but finds them
    with the last build's globs instead of parsing the fleet file: the fingerprint covers the
    fleet file's text, so a match proves those globs are still the fleet's."""
    from .errors import CompileError
    from .sources import Globs, fingerprint, read_sources

    if cache.globs is None or not cache.fingerprint or not options.layout:
        return False
    try:
        sources = read_sources(
            fleet, options.root, options.allow_outside, Globs(*cache.globs), lock_file
        )
    except CompileError:
        return False  # the full path reports it, positioned
    return cache.up_to_date(output, fingerprint(sources, options, code), names)
