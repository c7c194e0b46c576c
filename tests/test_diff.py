"""`diff` against a directory and a git revision, and the CI examples' commands."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO, ci_script_lines, copy_demo, git_run, run_cli

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


@pytest.fixture
def fleet_repo(tmp_path: Path) -> Path:
    """A platform repository: the demo fleet compiled and committed on main, then a change."""
    repo = copy_demo(tmp_path / "platform", git=shutil.which("git") is not None)
    assert run_cli("build", cwd=repo).exit_code == 0
    if shutil.which("git"):
        git_run(repo, "add", ".")
        git_run(repo, "commit", "-q", "-m", "base")
        git_run(repo, "update-ref", "refs/remotes/origin/main", "HEAD")
    web = repo / "apps/web/web.yaml"
    web.write_text(web.read_text().replace("replicas: 2", "replicas: 3"))
    (repo / "apps/web/extra.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra, namespace: shop}\ndata: {a: b}\n"
    )
    return repo


def test_diff_against_directory(fleet_repo: Path) -> None:
    result = run_cli("diff", "--against", "rendered", cwd=fleet_repo)
    assert result.exit_code == 1, result.output
    assert "cluster-beijing: 1 added, 1 changed, 0 removed" in result.stdout
    assert "  + ConfigMap shop/extra" in result.stdout
    assert "  ~ Deployment.apps shop/web: replicas 2 -> 3" in result.stdout
    assert "cluster-tianjin: 1 added, 0 changed, 0 removed" in result.stdout


def test_diff_markdown_and_patch(fleet_repo: Path) -> None:
    result = run_cli(
        "diff", "--against", "rendered", "--format", "markdown", "--patch", cwd=fleet_repo
    )
    assert result.exit_code == 1
    assert "| `cluster-beijing` | 1 | 1 | 0 |" in result.stdout
    assert "- ~ `Deployment.apps shop/web`: replicas 2 → 3" in result.stdout
    assert "+++ b/clusters/cluster-beijing/deployment.apps_shop_web.yaml" in result.stdout


def test_no_difference_exits_0(fleet_repo: Path) -> None:
    assert run_cli("build", cwd=fleet_repo).exit_code == 0
    result = run_cli("diff", "--against", "rendered", cwd=fleet_repo)
    assert result.exit_code == 0
    assert result.stdout == "no differences\n"


@needs_git
def test_diff_against_revision(fleet_repo: Path) -> None:
    result = run_cli("diff", "--against-ref", "origin/main", cwd=fleet_repo)
    assert result.exit_code == 1, result.output
    assert "~ Deployment.apps shop/web: replicas 2 -> 3" in result.stdout
    worktrees = subprocess.run(
        ["git", "worktree", "list"], cwd=fleet_repo, capture_output=True, text=True, check=True
    ).stdout
    assert len(worktrees.strip().splitlines()) == 1  # the temporary worktree is gone
    bad = run_cli("diff", "--against-ref", "no-such-rev", cwd=fleet_repo)
    assert bad.exit_code == 2
    assert "git worktree add" in bad.stderr


def test_diff_needs_exactly_one_baseline(fleet_repo: Path) -> None:
    result = run_cli("diff", cwd=fleet_repo)
    assert result.exit_code == 2
    assert "exactly one of --against DIR or --against-ref REV" in result.stderr


def _kurator_commands(path: Path, substitutions: dict[str, str]) -> list[list[str]]:
    """Every `kurator-compile ...` command line of a CI file, with its variables filled in."""
    lines = ci_script_lines(path, substitutions)
    commands = []
    for line in lines:
        if line.startswith("kurator-compile "):
            command = re.split(r"\s+(?:>|\|\|)\s+", line)[0]
            commands.append(shlex.split(command))
    return commands


@needs_git
@pytest.mark.parametrize(
    ("example", "substitutions"),
    [
        ("github-actions.yaml", {"${{ github.base_ref }}": "main"}),
        ("gitlab-ci.yaml", {"$CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main"}),
    ],
)
def test_ci_example_commands_run(
    fleet_repo: Path, example: str, substitutions: dict[str, str]
) -> None:
    commands = _kurator_commands(REPO / "examples/ci" / example, substitutions)
    assert [c[:2] for c in commands] == [["kurator-compile", "diff"], ["kurator-compile", "check"]]
    env = {**os.environ}
    outcomes = []
    for command in commands:
        done = subprocess.run(
            [sys.executable, "-m", "kurator_compile", *command[1:]],
            cwd=fleet_repo,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        outcomes.append(done)
    diff, check = outcomes
    assert diff.returncode == 1, diff.stderr
    assert "### kurator-compile:" in diff.stdout
    assert check.returncode == 1  # the change was not compiled: the job fails, as it should
    assert "deployment.apps_shop_web.yaml" in check.stdout
