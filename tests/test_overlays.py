"""Overlays, Karmada overrides and templates in the pipeline: order, errors, explain."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from .conftest import DEPLOYMENT, FLEET_HEADER, POLICY_ALL, run_cli

HEADER = FLEET_HEADER + "  overlays:\n    - overlays\n"


def overlay(name: str, patch: str, selector: str = "", target: str = "") -> str:
    target = target or "{group: apps, version: v1, kind: Deployment, name: web}"
    patch_block = "\n".join("        " + line for line in patch.strip().splitlines())
    return (
        "apiVersion: compile.kurator.dev/v1alpha1\nkind: Overlay\n"
        f"metadata:\n  name: {name}\nspec:\n{selector}"
        f"  patches:\n    - target: {target}\n      patch: |\n{patch_block}\n"
    )


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def render(fleet: Path, cluster: str) -> dict[str, dict[str, object]]:
    result = run_cli("render", fleet, "--cluster", cluster)
    assert result.exit_code == 0, result.output
    return {d["kind"]: d for d in yaml.safe_load_all(result.stdout)}


WEIGHTED = POLICY_ALL + (
    "  placement:\n    replicaScheduling:\n      replicaSchedulingType: Divided\n"
    "      replicaDivisionPreference: Weighted\n"
)


def test_order_placement_then_overlays_then_overrides(
    make_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    """Placement sets replicas, an overlay for south overrides them, a plaintext override last."""
    override = (
        "apiVersion: policy.karmada.io/v1alpha1\nkind: ClusterOverridePolicy\n"
        "metadata:\n  name: last-word\nspec:\n  overrideRules:\n"
        "    - targetCluster: {clusterNames: [beta]}\n      overriders:\n        plaintext:\n"
        "          - {path: /spec/template/spec/containers/0/image, operator: replace,"
        " value: 'nginx:override'}\n"
    )
    fleet = make_fleet("---\n" + WEIGHTED + "---\n" + override, header=HEADER)
    write(
        tmp_path,
        {
            "overlays/south.yaml": overlay(
                "south",
                "spec:\n  replicas: 7\n  template:\n    spec:\n      containers:\n"
                "        - name: nginx\n          image: nginx:overlay",
                "  clusterSelector:\n    labelSelector:\n      matchLabels: {region: south}\n",
            )
        },
    )
    alpha, beta = render(fleet, "alpha"), render(fleet, "beta")
    assert alpha["Deployment"]["spec"]["replicas"] == 1  # Webster 1:1 over 2 replicas
    assert beta["Deployment"]["spec"]["replicas"] == 7  # the overlay wins over placement
    containers = beta["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert containers[0]["image"] == "nginx:override"  # the override wins over the overlay
    explained = run_cli(
        "plan", fleet, "--explain", "Deployment/shop/web", "--cluster", "beta"
    ).stdout
    assert "1. overlay south patch 0 (overlays/south.yaml:" in explained
    assert "2. ClusterOverridePolicy last-word rule 0 (fleet.yaml:" in explained


def test_overlays_apply_in_fleet_order(make_fleet: Callable[..., Path], tmp_path: Path) -> None:
    fleet = make_fleet("---\n" + POLICY_ALL, header=HEADER)
    write(
        tmp_path,
        {
            "overlays/10-first.yaml": overlay("first", "spec:\n  replicas: 4"),
            "overlays/20-second.yaml": overlay("second", "spec:\n  replicas: 5"),
        },
    )
    assert render(fleet, "alpha")["Deployment"]["spec"]["replicas"] == 5


def test_json_patch_path_missing_is_positioned(
    make_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    fleet = make_fleet("---\n" + POLICY_ALL, header=HEADER)
    write(
        tmp_path,
        {"overlays/bad.yaml": overlay("bad", "- {op: remove, path: /spec/nothing/here}")},
    )
    out = tmp_path / "out"
    result = run_cli("build", fleet, "-o", out)
    assert result.exit_code == 2
    assert "overlays/bad.yaml:8:7: error:" in result.stderr
    assert "on cluster alpha" in result.stderr
    assert not out.exists()


def test_unmatched_patch_warns_and_strict_fails(
    make_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    fleet = make_fleet("---\n" + POLICY_ALL, header=HEADER)
    write(
        tmp_path,
        {
            "overlays/typo.yaml": overlay(
                "typo", "spec:\n  replicas: 4", target="{kind: Deployment, name: wbe}"
            )
        },
    )
    result = run_cli("build", fleet, "-o", tmp_path / "out")
    assert result.exit_code == 0
    assert (
        "overlays/typo.yaml:8:7: warning: overlay typo: patch 0 matches no object" in result.stderr
    )
    strict = run_cli("build", "--strict", fleet, "-o", tmp_path / "strict")
    assert strict.exit_code == 2
    assert not (tmp_path / "strict").exists()


def test_bad_overlay_document(make_fleet: Callable[..., Path], tmp_path: Path) -> None:
    fleet = make_fleet("---\n" + POLICY_ALL, header=HEADER)
    write(
        tmp_path,
        {
            "overlays/x.yaml": "apiVersion: compile.kurator.dev/v1alpha1\nkind: Overlay\n"
            "metadata: {name: x}\nspec:\n  patchs: []\n"
        },
    )
    result = run_cli("build", fleet, "-o", tmp_path / "out")
    assert result.exit_code == 2
    assert "overlays/x.yaml:5:3: error: unknown field 'patchs'" in result.stderr


TEMPLATE = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: info
  namespace: shop
data:
  cluster: {{ cluster.name }}
  region: {{ cluster.labels.region }}
  greeting: {{ values.greeting }}
  prometheus: "{{ '{{ $labels.instance }}' }}"
"""

VALUES_OVERLAY = """\
apiVersion: compile.kurator.dev/v1alpha1
kind: Overlay
metadata: {name: greetings}
spec:
  values: {greeting: hello, nested: {a: 1}}
---
apiVersion: compile.kurator.dev/v1alpha1
kind: Overlay
metadata: {name: south-greetings}
spec:
  clusterSelector: {clusterNames: [beta]}
  values: {greeting: bonjour}
"""


def _template_fleet(make_fleet: Callable[..., Path], tmp_path: Path, template: str) -> Path:
    header = HEADER.replace("    - apps/*.yaml\n", "    - apps/*.yaml\n    - apps/*.yaml.j2\n")
    fleet = make_fleet("---\n" + POLICY_ALL, header=header)
    write(tmp_path, {"apps/info.yaml.j2": template, "overlays/values.yaml": VALUES_OVERLAY})
    return fleet


def test_templates_render_per_cluster(make_fleet: Callable[..., Path], tmp_path: Path) -> None:
    fleet = _template_fleet(make_fleet, tmp_path, TEMPLATE)
    alpha, beta = render(fleet, "alpha"), render(fleet, "beta")
    assert alpha["ConfigMap"]["data"] == {
        "cluster": "alpha",
        "region": "north",
        "greeting": "hello",
        "prometheus": "{{ $labels.instance }}",
    }
    assert beta["ConfigMap"]["data"]["greeting"] == "bonjour"


LIST_TEMPLATE = """\
apiVersion: v1
kind: List
items:
{% for part in ["a", "b"] %}
  - apiVersion: v1
    kind: ConfigMap
    metadata: {name: info-{{ part }}, namespace: shop}
    data: {cluster: {{ cluster.name }}}
{% endfor %}
"""


def test_a_template_that_renders_a_list_yields_its_items(
    make_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    fleet = _template_fleet(make_fleet, tmp_path, LIST_TEMPLATE)
    result = run_cli("render", fleet, "--cluster", "beta")
    assert result.exit_code == 0, result.output
    maps = [d for d in yaml.safe_load_all(result.stdout) if d["kind"] == "ConfigMap"]
    assert [(m["metadata"]["name"], m["data"]) for m in maps] == [
        ("info-a", {"cluster": "beta"}),
        ("info-b", {"cluster": "beta"}),
    ]


def test_a_list_item_of_a_template_keeps_its_rendered_position(
    make_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    """Line and column in the rendered text, as for any template's objects."""
    broken = LIST_TEMPLATE.replace("data: {cluster:", "data: {count: 3, cluster:")
    fleet = _template_fleet(make_fleet, tmp_path, broken)
    result = run_cli("validate", fleet)
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == (
        "apps/info.yaml.j2:8:12: error: clusters alpha and beta: ConfigMap/shop/info-a: "
        "data.count: 3 is not of type 'string' (at /data/count)"
    )


def test_a_template_that_renders_a_kustomization_is_one_clear_error(
    make_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    kustomization = "resources:\n  - {{ cluster.name }}.yaml\n"
    fleet = _template_fleet(make_fleet, tmp_path, kustomization)
    result = run_cli("validate", fleet)
    assert result.exit_code == 2
    assert result.stderr == (
        "apps/info.yaml.j2:1:1: error: apps/info.yaml.j2 is a kustomize file (no kind, and the "
        "kustomization field 'resources'), not a Kubernetes object: kurator-compile reads "
        "plain Kubernetes manifests; leave it out with '!**/info.yaml.j2' in the Fleet's "
        "resources (or narrow the glob that matched apps/info.yaml.j2) (at /resources)\n"
        "1 error; nothing was written\n"
    )


def test_plain_yaml_is_never_templated(make_fleet: Callable[..., Path]) -> None:
    rule = DEPLOYMENT.replace(
        "name: web\n", "name: web\n  annotations: {x: '{{ $labels.x }}'}\n", 1
    )
    fleet = make_fleet(apps={"web.yaml": rule})
    deployment = render(fleet, "alpha")["Deployment"]
    assert deployment["metadata"]["annotations"] == {"x": "{{ $labels.x }}"}


@pytest.mark.parametrize(
    ("template", "message", "line"),
    [
        (TEMPLATE.replace("cluster.name", "cluster.nmae"), "has no attribute 'nmae'", 7),
        (TEMPLATE.replace("values.greeting", "values.nope"), "has no attribute 'nope'", 9),
        ("{% if %}\n", "syntax", 1),
        ("{{ ''.__class__.__mro__ }}\n", "not allowed in the sandbox", 1),
        ("{{ cycler.__init__.__globals__ }}\n", "not allowed in the sandbox", 1),
        ("{{ ().__class__.__base__.__subclasses__() }}\n", "not allowed in the sandbox", 1),
        ("{% for i in range(10**9) %}x{% endfor %}\n", "The sandbox blocks ranges", 1),
        ("{{ 'x' * 10**9 }}\n", "not allowed in the sandbox", 1),
        ("{% include '/etc/passwd' %}\n", "no loader for this environment", 1),
        ("{{ cycler.__init__.__globals__['os'] }}\n", "not allowed in the sandbox", 1),
    ],
)
def test_template_errors_are_positioned_and_fast(
    make_fleet: Callable[..., Path], tmp_path: Path, template: str, message: str, line: int
) -> None:
    fleet = _template_fleet(make_fleet, tmp_path, template)
    result = run_cli("build", fleet, "-o", tmp_path / "out")
    assert result.exit_code == 2, result.output
    assert f"apps/info.yaml.j2:{line}:1: error: template error for cluster alpha" in result.stderr
    assert message in result.stderr
    assert not (tmp_path / "out").exists()


def test_template_must_yield_the_same_objects(
    make_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    varying = TEMPLATE.replace("name: info", "name: info-{{ cluster.name }}")
    fleet = _template_fleet(make_fleet, tmp_path, varying)
    result = run_cli("build", fleet, "-o", tmp_path / "out")
    assert result.exit_code == 2
    assert "template renders different objects for cluster beta than for alpha" in result.stderr


EXTRA_FOR_BETA = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: info, namespace: shop}
data: {cluster: "{{ cluster.name }}"}
{% if cluster.name == "beta" %}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: beta-only, namespace: shop}
data: {x: "1"}
{% endif %}
"""


@pytest.mark.parametrize(
    ("template", "where", "detail"),
    [
        (EXTRA_FOR_BETA, "apps/info.yaml.j2:7:1", "ConfigMap/shop/beta-only only for beta"),
        (
            EXTRA_FOR_BETA.replace('== "beta"', '== "alpha"'),
            "apps/info.yaml.j2:7:1",
            "ConfigMap/shop/beta-only not for beta",
        ),
        (
            '{% if cluster.name == "beta" %}' + TEMPLATE + "{% endif %}",
            "apps/info.yaml.j2:1:1",
            "ConfigMap/shop/info only for beta",
        ),
    ],
    ids=["extra-on-other-cluster", "missing-on-other-cluster", "probe-yields-nothing"],
)
def test_template_objects_never_vanish(
    make_fleet: Callable[..., Path], tmp_path: Path, template: str, where: str, detail: str
) -> None:
    """Objects a template yields only for some clusters are an error, in either direction."""
    fleet = _template_fleet(make_fleet, tmp_path, template)
    result = run_cli("build", fleet, "-o", tmp_path / "out")
    assert result.exit_code == 2, result.output
    assert (
        f"{where}: error: template renders different objects for cluster beta than for alpha: "
        f"{detail}. A template may vary an object's content, not which objects it yields "
        "(kind, namespace, name)"
    ) in result.stderr.splitlines()
    assert result.stderr.endswith("1 error; nothing was written\n")
    assert not (tmp_path / "out").exists()
    rendered = run_cli("render", fleet, "--cluster", "beta")
    assert rendered.exit_code == 2, rendered.output
    assert detail in rendered.stderr


HUGE = 10**9
NESTED_FOR = "".join(f"{{% for i{n} in [1] %}}" for n in range(25)) + "x" + "{% endfor %}" * 25
BOUND = (
    "not allowed in the sandbox: the result would be larger than 4194304 characters "
    "(a width, count or padding argument is too large)"
)


@pytest.mark.parametrize(
    ("template", "message"),
    [
        pytest.param("{{ [].pop() }}", "IndexError: pop from empty list", id="list-pop"),
        pytest.param(
            "{{ {}.popitem() }}", "KeyError: 'popitem(): dictionary is empty'", id="popitem"
        ),
        pytest.param("{{ 'x'.encode('nope') }}", "LookupError: unknown encoding: nope", id="codec"),
        pytest.param(
            NESTED_FOR, "too deeply nested for Python: too many statically nested blocks", id="for"
        ),
        pytest.param(
            "{% if true %}" * 200 + "x" + "{% endif %}" * 200,
            "too deeply nested for Python: too many levels of indentation",
            id="if",
        ),
        pytest.param(f"{{{{ 'x'|center({HUGE}) }}}}", BOUND, id="center-filter"),
        pytest.param(f"{{{{ 'x'.center({HUGE}) }}}}", BOUND, id="center-method"),
        pytest.param(f"{{{{ 'x'.zfill({HUGE}) }}}}", BOUND, id="zfill"),
        pytest.param(f"{{{{ '\t'.expandtabs({HUGE}) }}}}", BOUND, id="expandtabs"),
        pytest.param(f"{{{{ '%0{HUGE}d' % 1 }}}}", BOUND, id="percent-width"),
        pytest.param(f"{{{{ '%*d' % ({HUGE}, 1) }}}}", BOUND, id="percent-star"),
        pytest.param(f"{{{{ '%0{HUGE}d'|format(1) }}}}", BOUND, id="format-filter"),
        pytest.param(f"{{{{ '{{:>{HUGE}}}'.format(1) }}}}", BOUND, id="str-format"),
        pytest.param(f"{{{{ '{{:>{{}}}}'.format(1, {HUGE}) }}}}", BOUND, id="str-format-nested"),
        pytest.param(f"{{{{ 'x'|indent({HUGE}) }}}}", BOUND, id="indent"),
        pytest.param("{{ ['a', 'b']|join('x' * 4000000) }}", BOUND, id="join-filter"),
        pytest.param("{{ ('x' * 4000000).join(['a', 'b']) }}", BOUND, id="join-method"),
        pytest.param("{{ ('a' * 1000).replace('', 'b' * 4000000) }}", BOUND, id="replace"),
        pytest.param("{{ ('a' * 1000)|replace('a', 'b' * 4000000) }}", BOUND, id="replace-filter"),
        pytest.param(f"{{{{ [1]|batch({HUGE}, 'x')|list }}}}", BOUND, id="batch"),
        pytest.param(f"{{{{ [1]|slice({HUGE})|list }}}}", BOUND, id="slice"),
        pytest.param(f"{{{{ {{}}|tojson({HUGE}) }}}}", BOUND, id="tojson"),
        pytest.param(
            "{% set s = 'x' * 4000000 %}{% for i in range(1000) %}{{ s }}{% endfor %}",
            "rendered text is larger than 4 MiB",
            id="repeated-output",
        ),
        pytest.param("{{ lipsum() }}", "'lipsum' is undefined (undefined)", id="lipsum"),
        pytest.param("{{ [1, 2]|random }}", "syntax: No filter named 'random'.", id="random"),
    ],
)
def test_template_crashes_and_bombs_are_positioned_errors(
    make_fleet: Callable[..., Path], tmp_path: Path, template: str, message: str
) -> None:
    """Exceptions of any type, Python's compiler limits and padding bombs: bounded, positioned;
    nondeterministic helpers are not in the sandbox."""
    fleet = _template_fleet(make_fleet, tmp_path, template + "\n")
    result = run_cli("build", fleet, "-o", tmp_path / "out")
    assert result.exit_code == 2, result.output
    assert (
        f"apps/info.yaml.j2:1:1: error: template error for cluster alpha: {message}"
    ) in result.stderr.splitlines()
    assert not (tmp_path / "out").exists()


def test_an_exclusion_leaves_an_overlay_file_out_of_an_overlays_folder(
    make_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    """As in `resources`: gitignore-like, the last matching entry decides."""
    header = FLEET_HEADER + "  overlays:\n    - overlays\n    - '!**/draft-*.yaml'\n"
    fleet = make_fleet(header=header)
    replicas = "spec:\n  replicas: {}"
    write(
        tmp_path,
        {
            "overlays/a.yaml": overlay("a", replicas.format(5)),
            "overlays/draft-b.yaml": overlay("draft-b", replicas.format(9)),
        },
    )
    assert render(fleet, "alpha")["Deployment"]["spec"]["replicas"] == 5
    make_fleet(header=header + "    - overlays/draft-b.yaml\n")
    assert render(fleet, "alpha")["Deployment"]["spec"]["replicas"] == 9


def test_an_overlays_exclusion_that_leaves_out_nothing_is_an_error(
    make_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    header = FLEET_HEADER + "  overlays:\n    - overlays\n    - '!**/drafts'\n"
    fleet = make_fleet(header=header)
    write(tmp_path, {"overlays/a.yaml": overlay("a", "spec:\n  replicas: 5")})
    result = run_cli("validate", fleet)
    assert result.exit_code == 2
    assert result.stderr == (
        "fleet.yaml:15:7: error: '!**/drafts' leaves out no file that the overlays globs "
        "match (at /spec/overlays/1)\n"
        "1 error; nothing was written\n"
    )
