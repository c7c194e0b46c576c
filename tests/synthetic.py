"""Synthetic fleets for benchmarks and fault tests: N clusters in 3 regions, A apps."""

from __future__ import annotations

from pathlib import Path

REGIONS = ("north", "east", "south")


def cluster_name(index: int) -> str:
    return f"cluster-{index:04d}"


def app_documents(index: int) -> str:
    name = f"app-{index:02d}"
    return f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: apps
  labels: {{app: {name}}}
spec:
  replicas: 3
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      containers:
        - name: main
          image: registry.example.com/apps/{name}:1.0.0
          ports:
            - containerPort: 8080
          env:
            - {{name: APP_NAME, value: {name}}}
          resources:
            requests: {{cpu: 100m, memory: 128Mi}}
      topologySpreadConstraints:
        - maxSkew: 1
          topologyKey: kubernetes.io/hostname
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels: {{app: {name}}}
---
apiVersion: v1
kind: Service
metadata:
  name: {name}
  namespace: apps
spec:
  selector: {{app: {name}}}
  ports:
    - port: 80
      targetPort: 8080
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}-config
  namespace: apps
data:
  LOG_LEVEL: info
  FEATURE_X: "on"
"""


POLICY = """\
apiVersion: policy.karmada.io/v1alpha1
kind: ClusterPropagationPolicy
metadata:
  name: everything
spec:
  resourceSelectors:
    - apiVersion: apps/v1
      kind: Deployment
    - apiVersion: v1
      kind: Service
    - apiVersion: v1
      kind: ConfigMap
"""


REGION_REPLICAS = {"north": 2, "east": 4, "south": 5}
REGION_TAGS = {"north": "1.1.0", "east": "1.2.0", "south": "1.3.0"}


def region_overlay(region: str) -> str:
    """Replicas per region, as an Overlay patch over every Deployment."""
    return f"""\
apiVersion: compile.kurator.dev/v1alpha1
kind: Overlay
metadata:
  name: region-{region}
spec:
  clusterSelector:
    labelSelector:
      matchLabels: {{region: {region}}}
  patches:
    - target: {{group: apps, kind: Deployment}}
      patch: |
        - {{op: replace, path: /spec/replicas, value: {REGION_REPLICAS[region]}}}
"""


def tag_override() -> str:
    """Image tag per region, as a Karmada ClusterOverridePolicy."""
    rules = "".join(
        f"""\
    - targetCluster:
        labelSelector:
          matchLabels: {{region: {region}}}
      overriders:
        imageOverrider:
          - {{component: Tag, operator: replace, value: "{tag}"}}
"""
        for region, tag in REGION_TAGS.items()
    )
    return f"""\
apiVersion: policy.karmada.io/v1alpha1
kind: ClusterOverridePolicy
metadata:
  name: region-tags
spec:
  resourceSelectors:
    - apiVersion: apps/v1
      kind: Deployment
  overrideRules:
{rules}"""


def cluster_overlay(index: int) -> str:
    """One cluster's own Overlay: even clusters are selected by name, odd ones by a label only
    they carry; one JSON patch on one Deployment."""
    name = cluster_name(index)
    selector = (
        f"clusterNames: [{name}]"
        if index % 2 == 0
        else f"labelSelector:\n      matchLabels: {{cluster: {name}}}"
    )
    return f"""\
apiVersion: compile.kurator.dev/v1alpha1
kind: Overlay
metadata:
  name: own-{name}
spec:
  clusterSelector:
    {selector}
  patches:
    - target: {{group: apps, kind: Deployment, name: app-00}}
      patch: |
        - {{op: add, path: /metadata/annotations, value: {{owner: {name}}}}}
"""


def write_fleet(
    root: Path,
    clusters: int,
    apps: int = 20,
    overlays: bool = False,
    per_cluster_overlays: bool = False,
) -> Path:
    """A repository under `root` with fleets/synthetic.yaml; returns the fleet path.

    With `overlays`, each region changes replicas (an Overlay) and image tags (a
    ClusterOverridePolicy), so every Deployment has three variants across the fleet. With
    `per_cluster_overlays`, every cluster also has an Overlay of its own (`cluster_overlay`).
    """
    (root / ".git").mkdir(parents=True, exist_ok=True)
    (root / "fleets").mkdir(exist_ok=True)
    (root / "apps").mkdir(exist_ok=True)
    if overlays:
        (root / "overlays").mkdir(exist_ok=True)
        for region in REGIONS:
            (root / "overlays" / f"{region}.yaml").write_text(region_overlay(region))
    if per_cluster_overlays:
        (root / "own").mkdir(exist_ok=True)
        for index in range(clusters):
            (root / "own" / f"{cluster_name(index)}.yaml").write_text(cluster_overlay(index))
    for index in range(apps):
        (root / "apps" / f"app-{index:02d}.yaml").write_text(app_documents(index))
    lines = [
        "apiVersion: compile.kurator.dev/v1alpha1",
        "kind: Fleet",
        "metadata:",
        "  name: synthetic",
        "spec:",
        "  clusters:",
    ]
    for index in range(clusters):
        region = REGIONS[index % len(REGIONS)]
        lines.append(f"    - name: {cluster_name(index)}")
        own = f", cluster: {cluster_name(index)}" if per_cluster_overlays and index % 2 else ""
        lines.append(f"      labels: {{region: {region}{own}}}")
        lines.append(f"      region: {region}")
    lines += ["  resources:", "    - ../apps/*.yaml"]
    extra = ""
    folders = [
        f"    - ../{d}" for d, on in (("overlays", overlays), ("own", per_cluster_overlays)) if on
    ]
    if folders:
        lines += ["  overlays:", *folders]
    if overlays:
        extra = "---\n" + tag_override()
    fleet = root / "fleets" / "synthetic.yaml"
    fleet.write_text("\n".join(lines) + "\n---\n" + POLICY + extra)
    return fleet
