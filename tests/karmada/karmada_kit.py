"""Small repositories built from Karmada's own files (upstream/), built by the CLI."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from kurator_compile.cli import main

UPSTREAM = Path(__file__).parent / "upstream"


def fleet_header(*clusters: str) -> str:
    listed = "".join(f"    - name: {name}\n" for name in clusters)
    return (
        "apiVersion: compile.kurator.dev/v1alpha1\nkind: Fleet\nmetadata:\n  name: test\n"
        f"spec:\n  clusters:\n{listed}  resources:\n    - apps/*.yaml\n"
    )


def repository(root: Path, clusters: tuple[str, ...], files: dict[str, str]) -> Path:
    """A repository whose apps/ holds `files` (name -> upstream path or inline YAML text)."""
    (root / ".git").mkdir(exist_ok=True)
    (root / "apps").mkdir(exist_ok=True)
    for name, source in files.items():
        text = source if "\n" in source else (UPSTREAM / source).read_text("utf-8")
        (root / "apps" / name).write_text(text, "utf-8")
    fleet = root / "fleet.yaml"
    fleet.write_text(fleet_header(*clusters), "utf-8")
    return fleet


def build(fleet: Path, *args: str) -> Result:
    out = fleet.parent / "rendered"
    argv = ["build", str(fleet), "-o", str(out), "--lock", str(fleet.parent / "lock.json"), *args]
    return CliRunner().invoke(main, argv, catch_exceptions=False)


def stderr_lines(result: Result, severity: str) -> list[str]:
    return [line for line in result.stderr.splitlines() if f": {severity}: " in line]
