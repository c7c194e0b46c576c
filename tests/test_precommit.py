"""The shipped pre-commit hooks, run by the real `pre-commit` against a fleet repository."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import REPO, copy_demo, git_run

pytestmark = pytest.mark.skipif(
    shutil.which("pre-commit") is None or shutil.which("git") is None,
    reason="pre-commit or git not installed: the hook cannot be run for real",
)


def _try_repo(repo: Path, hook: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    return subprocess.run(
        ["pre-commit", "try-repo", str(REPO), hook, "--all-files", "--verbose"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


def test_hooks_fail_on_a_stale_tree_and_pass_after_a_build(tmp_path: Path) -> None:
    repo = copy_demo(tmp_path / "platform", git=True)
    git_run(repo, "add", ".")
    git_run(repo, "commit", "-q", "-m", "fleet")
    home = tmp_path / "pre-commit-home"

    stale = _try_repo(repo, "kurator-compile-check", home)
    assert stale.returncode == 1, stale.stdout + stale.stderr
    assert "added: rendered/clusters/cluster-beijing/" in stale.stdout

    build = _try_repo(repo, "kurator-compile-build", home)
    assert build.returncode == 1, build.stdout + build.stderr  # it wrote files: fail like black
    assert (repo / "rendered/clusters/cluster-beijing/deployment.apps_shop_web.yaml").exists()
    git_run(repo, "add", ".")
    git_run(repo, "commit", "-q", "-m", "compiled")

    clean = _try_repo(repo, "kurator-compile-check", home)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    again = _try_repo(repo, "kurator-compile-build", home)
    assert again.returncode == 0, again.stdout + again.stderr

    (repo / "apps/web/web.yaml").write_text(
        (repo / "apps/web/web.yaml").read_text().replace("replicas: 2", "replicas: 3")
    )
    drift = _try_repo(repo, "kurator-compile-check", home)
    assert drift.returncode == 1
    assert (
        "changed: rendered/clusters/cluster-beijing/deployment.apps_shop_web.yaml" in drift.stdout
    )
    # pre-commit ran the hooks (rather than skipping them) and reported them by their names
    assert re.search(r"kurator-compile check\.+Passed", clean.stdout), clean.stdout
    assert re.search(r"kurator-compile check\.+Failed", drift.stdout), drift.stdout
