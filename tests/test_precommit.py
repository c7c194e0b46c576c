"""The shipped pre-commit hooks, run by the real `pre-commit` against a fleet repository, from
the README's `.pre-commit-config.yaml` snippet pointed at a local clone and commit."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import REPO, copy_demo, git_run
from .wheel import committed_clone

pytestmark = pytest.mark.skipif(
    shutil.which("pre-commit") is None or shutil.which("git") is None,
    reason="pre-commit or git not installed: the hook cannot be run for real",
)


def readme_config(repo_url: str, rev: str) -> str:
    """The README's snippet with this clone and commit, and both hooks listed."""
    text = (REPO / "README.md").read_text("utf-8")
    after = text.split("In a fleet repository's `.pre-commit-config.yaml`:", 1)[1]
    (snippet,) = re.findall(r"```yaml\n(.*?)```", after, flags=re.S)[:1]
    config = re.sub(r"(- repo: )\S+", rf"\g<1>{repo_url}", snippet, count=1)
    config = re.sub(r"(rev: )\S+", rf"\g<1>{rev}", config, count=1)
    check_hook = re.search(r"^( +)- id: kurator-compile-check.*$", config, flags=re.M)
    assert check_hook is not None, snippet
    indent = check_hook.group(1)
    both = f"{indent}- id: kurator-compile-check\n{indent}- id: kurator-compile-build"
    return config.replace(check_hook.group(0), both)


def _run(repo: Path, hook: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    return subprocess.run(
        ["pre-commit", "run", hook, "--all-files", "--verbose"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


def test_hooks_fail_on_a_stale_tree_and_pass_after_a_build(tmp_path: Path) -> None:
    clone, commit = committed_clone(tmp_path / "tool")
    repo = copy_demo(tmp_path / "platform", git=True)
    (repo / ".pre-commit-config.yaml").write_text(readme_config(f"file://localhost{clone}", commit))
    git_run(repo, "add", ".")
    git_run(repo, "commit", "-q", "-m", "fleet")
    home = tmp_path / "pre-commit-home"

    stale = _run(repo, "kurator-compile-check", home)
    assert stale.returncode == 1, stale.stdout + stale.stderr
    assert "added: rendered/clusters/cluster-beijing/" in stale.stdout

    build = _run(repo, "kurator-compile-build", home)
    assert build.returncode == 1, build.stdout + build.stderr  # it wrote files: fail like black
    assert (repo / "rendered/clusters/cluster-beijing/deployment.apps_shop_web.yaml").exists()
    git_run(repo, "add", ".")
    git_run(repo, "commit", "-q", "-m", "compiled")

    clean = _run(repo, "kurator-compile-check", home)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    again = _run(repo, "kurator-compile-build", home)
    assert again.returncode == 0, again.stdout + again.stderr

    (repo / "apps/web/web.yaml").write_text(
        (repo / "apps/web/web.yaml").read_text().replace("replicas: 2", "replicas: 3")
    )
    drift = _run(repo, "kurator-compile-check", home)
    assert drift.returncode == 1
    assert (
        "changed: rendered/clusters/cluster-beijing/deployment.apps_shop_web.yaml" in drift.stdout
    )
    # pre-commit ran the hooks (rather than skipping them) and reported them by their names
    assert re.search(r"kurator-compile check\.+Passed", clean.stdout), clean.stdout
    assert re.search(r"kurator-compile check\.+Failed", drift.stdout), drift.stdout
