"""Record what kubectl makes of the YAML corpus in tests/kubectl_yaml/ (the expected answers of
tests/test_kubectl_yaml.py).

    python scripts/kubectl_yaml_oracle.py            # rewrite the *.expected.json files
    python scripts/kubectl_yaml_oracle.py --check    # exit 1 if kubectl now reads differently

kubectl reads each file with `kubectl label --local -f FILE -o json`, which needs no cluster (a
kubeconfig naming an unreachable server is written to a temporary folder). The path Flux takes,
`kustomize build` then the same reader, is recorded beside it where it differs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "kubectl_yaml"
LABEL = "oracle=1"
KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{name: none, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: none, user: {token: none}}]
contexts: [{name: none, context: {cluster: none, user: none}}]
current-context: none
"""
COMMAND = f"kubectl label --local -f FILE {LABEL} -o json"


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["kubectl", *args], capture_output=True, text=True, env=env, check=False)


def _read(path: Path, env: dict[str, str]) -> Any:
    """kubectl's object for `path`, without the label the command adds; or its error."""
    done = _run(["label", "--local", "-f", str(path), LABEL, "-o", "json"], env)
    if done.returncode != 0:
        return {"error": done.stderr.strip().replace(str(path), "FILE")}
    obj = json.loads(done.stdout)
    labels = obj["metadata"].pop("labels")
    assert labels == {"oracle": "1"}, labels
    return obj


def _differences(a: Any, b: Any, pointer: str = "") -> dict[str, list[Any]]:
    if isinstance(a, dict) and isinstance(b, dict):
        found: dict[str, list[Any]] = {}
        for key in sorted(set(a) | set(b)):
            token = key.replace("~", "~0").replace("/", "~1")
            found.update(_differences(a.get(key), b.get(key), f"{pointer}/{token}"))
        return found
    return {} if a == b and type(a) is type(b) else {pointer: [a, b]}


def _kustomize_reading(path: Path, env: dict[str, str], work: Path) -> tuple[Any, list[str]]:
    """The object Flux would apply for `path`, and what kustomize refused in it: each line
    its error names, else the lines with explicit `!!` tags, else the `keys` section, are left
    out until it builds (the later line of a duplicated key)."""
    folder = work / "kustomize"
    folder.mkdir()
    lines = path.read_text("utf-8").splitlines(True)
    (folder / "kustomization.yaml").write_text(f"resources: [{path.name}]\n", "utf-8")
    refusals: list[str] = []
    for _ in range(10):
        (folder / path.name).write_text("".join(lines), "utf-8")
        built = _run(["kustomize", str(folder)], env)
        if built.returncode == 0:
            break
        error = built.stderr.strip().split("err=", 1)[-1]
        refusals.append(error)
        duplicate = re.search(r'mapping key "([^"]*)" already defined', error)
        named = re.search(r"line ([0-9]+): ", error)
        if duplicate is not None:
            # its line numbers are those of kustomize's own re-encoding: find the key instead
            key = re.compile(rf'\s+"?{re.escape(duplicate.group(1))}"?: ')
            del lines[max(i for i, line in enumerate(lines) if key.match(line))]
        elif named is not None:
            del lines[int(named.group(1)) - 1]
        elif any(" !!" in line for line in lines):
            lines = [line for line in lines if " !!" not in line]
        else:  # keys that are not strings: kustomize refuses the whole mapping
            start = lines.index("keys:\n")
            end = next(i for i in range(start + 1, len(lines)) if not lines[i][0].isspace())
            del lines[start:end]
    built.check_returncode()
    (work / "built.yaml").write_text(built.stdout, "utf-8")
    return _read(work / "built.yaml", env), refusals


def _version(env: dict[str, str]) -> str:
    done = _run(["version", "--client", "-o", "json"], env)
    info = json.loads(done.stdout)
    return f"{info['clientVersion']['gitVersion']} (kustomize {info['kustomizeVersion']})"


def record() -> dict[str, Any]:
    """Every expected-answer file, by name."""
    with tempfile.TemporaryDirectory() as temp:
        work = Path(temp)
        (work / "config").write_text(KUBECONFIG, "utf-8")
        env = {**os.environ, "KUBECONFIG": str(work / "config")}
        version = _version(env)
        scalars = CORPUS / "scalars.yaml"
        read = _read(scalars, env)
        kustomized, kustomize_refusal = _kustomize_reading(scalars, env, work)
        refused = []
        documents = (CORPUS / "refused.yaml").read_text("utf-8").split("---\n")
        for index, document in enumerate(documents):
            (work / "one.yaml").write_text(document, "utf-8")
            refused.append({"document": index, **_read(work / "one.yaml", env)})
    return {
        "scalars.expected.json": {
            "kubectl": version,
            "command": COMMAND.replace("FILE", "tests/kubectl_yaml/scalars.yaml"),
            "object": read,
            "kustomize_then_kubectl": _differences(read, kustomized),
            "kustomize_refused": kustomize_refusal,
        },
        "refused.expected.json": {
            "kubectl": version,
            "command": COMMAND.replace("FILE", "DOCUMENT") + ", per document",
            "documents": refused,
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare, write nothing")
    check = parser.parse_args().check
    stale = []
    for name, content in record().items():
        text = json.dumps(content, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        path = CORPUS / name
        if check:
            recorded = json.loads(path.read_text("utf-8"))
            recorded.pop("kubectl"), content.pop("kubectl")
            if recorded != content:
                stale.append(name)
        else:
            path.write_text(text, "utf-8")
    for name in stale:
        print(f"{name}: kubectl now reads the corpus differently", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
