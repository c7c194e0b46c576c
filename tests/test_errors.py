"""Every way input can be wrong: exit 2, a positioned message, no traceback, nothing written."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from kurator_compile.errors import Diagnostic, SourceLocation

from .conftest import DEPLOYMENT, FLEET_HEADER, POLICY_ALL, run_cli

CASES: list[tuple[str, str, dict[str, str] | None, str, str]] = [
    # (id, fleet extra documents, apps (None = default), "file:line:col", message fragment)
    (
        "duplicate-key",
        "---\n" + POLICY_ALL,
        {"web.yaml": "apiVersion: v1\nkind: ConfigMap\nkind: ConfigMap\nmetadata: {name: a}\n"},
        "apps/web.yaml:3:1",
        "duplicate key 'kind'",
    ),
    (
        "tab-indentation",
        "---\n" + POLICY_ALL,
        {"web.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n\tname: a\n"},
        "apps/web.yaml:4:1",
        "a tab is used as indentation",
    ),
    (
        "nbsp-indentation",
        "---\n" + POLICY_ALL,
        {"web.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n\u00a0 name: a\n"},
        "apps/web.yaml:4:1",
        "non-breaking space (U+00A0",
    ),
    (
        "broken-yaml",
        "---\n" + POLICY_ALL,
        {"web.yaml": "apiVersion: v1\nkind: [ConfigMap\n"},
        "apps/web.yaml:3:1",
        "invalid YAML",
    ),
    (
        "alias-bomb",
        "---\n" + POLICY_ALL,
        {
            "web.yaml": "a: &a [x,x,x,x,x,x,x,x,x,x]\n"
            + "".join(
                f"{n}: &{n} [{', '.join(['*' + p] * 10)}]\n"
                for p, n in zip("abcdef", "bcdefg", strict=True)
            )
        },
        "apps/web.yaml:",
        "YAML aliases expand past",
    ),
    (
        "binary-file",
        "---\n" + POLICY_ALL,
        {"web.yaml": "\x00\x01\x02binary"},
        "apps/web.yaml:1:1",
        "binary file",
    ),
    (
        "missing-kind",
        "---\n" + POLICY_ALL,
        {"web.yaml": "apiVersion: v1\nmetadata: {name: a}\n"},
        "apps/web.yaml:1:1",
        "'kind' is a required property",
    ),
    (
        "wrong-type-name",
        "---\n" + POLICY_ALL,
        {"web.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: 42\n"},
        "apps/web.yaml:4:3",
        "42 is not of type 'string'",
    ),
    (
        "uppercase-object-name",
        "---\n" + POLICY_ALL,
        {"web.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Web\n"},
        "apps/web.yaml:4:3",
        "cannot become a file name",
    ),
    (
        "path-in-object-name",
        "---\n" + POLICY_ALL,
        {"web.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ../../etc\n"},
        "apps/web.yaml:4:3",
        "cannot become a file name",
    ),
    (
        "duplicate-object",
        "---\n" + POLICY_ALL,
        {"a.yaml": DEPLOYMENT, "b.yaml": DEPLOYMENT},
        "apps/b.yaml:1:1",
        "duplicate object Deployment.apps/shop/web (first defined at apps/a.yaml:1:1)",
    ),
    (
        "unknown-policy-field",
        "---\n" + POLICY_ALL + "  placement:\n    clusterAffinty: {}\n",
        None,
        "fleet.yaml:25:5",
        "unknown field 'clusterAffinty'",
    ),
    (
        "bad-operator",
        "---\n"
        + POLICY_ALL
        + "  placement:\n    clusterAffinity:\n      labelSelector:\n        matchExpressions:\n"
        + "          - {key: region, operator: Equals, values: [north]}\n",
        None,
        "fleet.yaml:28:27",
        "'Equals' is not one of 'In', 'NotIn', 'Exists', 'DoesNotExist'",
    ),
    (
        "policy-names-unknown-cluster",
        "---\n" + POLICY_ALL + "  placement:\n    clusterAffinity:\n      clusterNames: [gamma]\n",
        None,
        "apps/web.yaml:1:1",
        "cannot be scheduled: 0/2 clusters are available: 2 cluster(s) did not match the "
        "placement cluster affinity constraint.",
    ),
    (
        "second-fleet-document",
        "---\n" + FLEET_HEADER,
        None,
        "fleet.yaml:14:1",
        "exactly one Fleet document",
    ),
    (
        "document-not-a-mapping",
        "---\n- just\n- a list\n",
        None,
        "fleet.yaml:14:1",
        "a document must be a mapping",
    ),
    (
        "unsupported-tag",
        "---\n" + POLICY_ALL,
        {"web.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {x: !vault y}\n"},
        "apps/web.yaml:4:11",
        "unsupported YAML tag '!vault'",
    ),
]


@pytest.mark.parametrize(
    ("fleet_extra", "apps", "where", "message"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_bad_input_is_reported_with_position(
    make_fleet: Callable[..., Path],
    tmp_path: Path,
    fleet_extra: str,
    apps: dict[str, str] | None,
    where: str,
    message: str,
) -> None:
    fleet = make_fleet(fleet_extra, apps)
    out = tmp_path / "rendered"
    result = run_cli("build", fleet, "-o", out)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert any(line.startswith(where) and message in line for line in result.stderr.splitlines()), (
        result.stderr
    )
    assert "Traceback" not in result.output
    assert "nothing was written" in result.stderr
    assert not out.exists()


FLEET_CASES: list[tuple[str, str, str, str]] = [
    # (id, whole fleet text, "file:line:col", message fragment)
    ("empty-fleet-file", "", "fleet.yaml:1:1", "holds no documents"),
    (
        "not-a-fleet-first",
        POLICY_ALL,
        "fleet.yaml:1:1",
        "the first document of a fleet file must be a Fleet",
    ),
    (
        "zero-clusters",
        FLEET_HEADER.replace(
            "    - name: alpha\n      labels: {region: north}\n"
            "    - name: beta\n      labels: {region: south}\n",
            "    []\n",
        ).replace("  clusters:\n    []", "  clusters: []"),
        "fleet.yaml:6:3",
        "[] should be non-empty",
    ),
    (
        "duplicate-cluster",
        FLEET_HEADER.replace("name: beta", "name: alpha"),
        "fleet.yaml:9:7",
        "duplicate cluster alpha (first defined at fleet.yaml:7:7)",
    ),
    (
        "cluster-name-not-dns",
        FLEET_HEADER.replace("name: beta", "name: Beta_1"),
        "fleet.yaml:9:7",
        "'Beta_1' does not match",
    ),
    (
        "cluster-name-escapes",
        FLEET_HEADER.replace("name: beta", "name: ../beta"),
        "fleet.yaml:9:7",
        "'../beta' does not match",
    ),
    (
        "glob-matches-nothing",
        FLEET_HEADER.replace("apps/*.yaml", "missing/*.yaml"),
        "fleet.yaml:12:7",
        "'missing/*.yaml' matches no file",
    ),
    (
        "glob-leaves-root",
        FLEET_HEADER.replace("apps/*.yaml", "../*/fleet.yaml"),
        "fleet.yaml:12:7",
        "outside the repository root",
    ),
    (
        "bad-capacity",
        FLEET_HEADER.replace("labels: {region: south}", "capacity: {cpu: lots}"),
        "fleet.yaml:10:18",
        "'lots' does not match",
    ),
    (
        "unknown-fleet-field",
        FLEET_HEADER.replace("  resources:", "  resorces:"),
        "fleet.yaml:11:3",
        "unknown field 'resorces'",
    ),
]


@pytest.mark.parametrize(
    ("fleet_text", "where", "message"),
    [case[1:] for case in FLEET_CASES],
    ids=[case[0] for case in FLEET_CASES],
)
def test_bad_fleet_is_reported_with_position(
    make_fleet: Callable[..., Path],
    tmp_path: Path,
    fleet_text: str,
    where: str,
    message: str,
) -> None:
    fleet = make_fleet("", header=fleet_text)
    out = tmp_path / "rendered"
    result = run_cli("build", fleet, "-o", out)
    assert result.exit_code == 2, result.output
    assert any(line.startswith(where) and message in line for line in result.stderr.splitlines()), (
        result.stderr
    )
    assert "Traceback" not in result.output
    assert not out.exists()


def test_all_errors_of_a_run_are_reported_sorted(
    make_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    apps = {
        "b.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: B\n",
        "a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: 7\n",
    }
    fleet = make_fleet("---\n" + POLICY_ALL, apps)
    result = run_cli("build", fleet, "-o", tmp_path / "out")
    assert result.exit_code == 2
    errors = [line for line in result.stderr.splitlines() if ": error: " in line]
    assert [line.split(":")[0] for line in errors] == ["apps/a.yaml", "apps/b.yaml"]


def test_unplaced_object_warns_and_strict_fails(
    make_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    apps = {"svc.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: token}\n"}
    fleet = make_fleet("---\n" + POLICY_ALL, apps)
    result = run_cli("build", fleet, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "apps/svc.yaml:1:1: warning: Secret/default/token is selected by no" in result.stderr
    strict = run_cli("build", "--strict", fleet, "-o", tmp_path / "strict")
    assert strict.exit_code == 2
    assert "apps/svc.yaml:1:1: error: Secret/default/token" in strict.stderr
    assert not (tmp_path / "strict").exists()


def test_internal_error_is_one_line_exit_3(
    make_fleet: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import kurator_compile.compile as compile_module

    def boom(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("kaboom")

    monkeypatch.setattr(compile_module, "render_tree", boom)
    result = run_cli("build", make_fleet(), "-o", tmp_path / "out")
    assert result.exit_code == 3
    assert "internal error: RuntimeError: kaboom" in result.stderr
    assert "please report it" in result.stderr
    assert "Traceback" not in result.stderr
    debug = run_cli("--debug", "build", make_fleet(), "-o", tmp_path / "out")
    assert debug.exit_code == 3
    assert "Traceback" in debug.stderr


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert run_cli("build", "--no-such-flag").exit_code == 2
    result = run_cli("build", cwd=tmp_path)
    assert result.exit_code == 2
    assert "no FLEET given and no fleets/*.yaml" in result.stderr
    (tmp_path / "fleets").mkdir()
    (tmp_path / "fleets" / "a.yaml").write_text("")
    (tmp_path / "fleets" / "b.yaml").write_text("")
    several = run_cli("validate", cwd=tmp_path)
    assert several.exit_code == 2
    assert "fleets/a.yaml, fleets/b.yaml" in several.stderr


def test_not_utf8_file(make_fleet: Callable[..., Path], tmp_path: Path) -> None:
    fleet = make_fleet()
    (tmp_path / "apps" / "latin1.yaml").write_bytes(b"apiVersion: v1\nkind: ConfigMap\n# caf\xe9\n")
    result = run_cli("build", fleet, "-o", tmp_path / "out")
    assert result.exit_code == 2
    assert "apps/latin1.yaml:3:6: error: this file is not UTF-8 text" in result.stderr
    assert not (tmp_path / "out").exists()


def test_symlink_out_of_the_repository(make_fleet: Callable[..., Path], tmp_path: Path) -> None:
    fleet = make_fleet()
    secret = tmp_path.parent / f"{tmp_path.name}-outside.yaml"
    secret.write_text(DEPLOYMENT.replace("name: web", "name: other"))
    (tmp_path / "apps" / "link.yaml").symlink_to(secret)
    result = run_cli("build", fleet, "-o", tmp_path / "out")
    assert result.exit_code == 2
    assert "fleet.yaml:12:7: error: 'apps/*.yaml' reaches" in result.stderr
    assert "--allow-outside" in result.stderr
    allowed = run_cli("build", "--allow-outside", fleet, "-o", tmp_path / "out")
    assert allowed.exit_code == 0, allowed.output


def test_missing_fleet_file(tmp_path: Path) -> None:
    result = run_cli("build", tmp_path / "nope.yaml", "-o", tmp_path / "out", "--root", tmp_path)
    assert result.exit_code == 2
    assert "nope.yaml:1:1: error: cannot read nope.yaml: No such file or directory" in result.stderr


def test_enormous_document(make_fleet: Callable[..., Path], tmp_path: Path) -> None:
    huge = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata:\n  x: '" + "y" * (17 << 20)
    fleet = make_fleet(apps={"huge.yaml": huge + "'\n"})
    result = run_cli("build", fleet, "-o", tmp_path / "out")
    assert result.exit_code == 2
    assert "apps/huge.yaml:1:1: error: file is larger than 16 MiB" in result.stderr


def test_deep_nesting(make_fleet: Callable[..., Path], tmp_path: Path) -> None:
    deep = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: " + "[" * 5000 + "]" * 5000
    fleet = make_fleet(apps={"deep.yaml": deep + "\n"})
    result = run_cli("build", fleet, "-o", tmp_path / "out")
    assert result.exit_code == 2
    assert (
        "apps/deep.yaml:4:106: error: YAML nesting is deeper than 100 levels; no Kubernetes "
        "object needs that many (at /data" + "/0" * 99 + ")"
    ) in result.stderr.splitlines()


def test_empty_documents_are_skipped(make_fleet: Callable[..., Path], tmp_path: Path) -> None:
    fleet = make_fleet(apps={"web.yaml": "---\n---\n" + DEPLOYMENT + "---\n# just a comment\n"})
    result = run_cli("build", fleet, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output


def test_control_characters_are_escaped_in_diagnostics() -> None:
    where = SourceLocation("apps/\x1b[31mred\r.yaml", 3, 1, "/data/\u202ex")
    rendered = Diagnostic.error("bad\tvalue\nsecond line \x07", where).render()
    assert rendered == (
        "apps/\\x1b[31mred\\x0d.yaml:3:1: error: bad\\x09value\nsecond line \\x07 "
        "(at /data/\\u202ex)"
    )


def test_file_names_with_control_characters_are_printed_escaped(
    make_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    """A file name cannot colour the terminal, rewrite the line, or forge a CI annotation."""
    fleet = make_fleet(apps={"web.yaml": DEPLOYMENT})
    (fleet.parent / "apps" / "\x1b[2J\nevil\r.yaml").write_text("kind: [broken\n")
    result = run_cli("build", fleet, "-o", tmp_path / "out")
    assert result.exit_code == 2, result.output
    assert "\x1b" not in result.stderr
    assert "\r" not in result.stderr
    assert "apps/\\x1b[2J\\x0aevil\\x0d.yaml:2:1: error: invalid YAML" in result.stderr
