"""The chart Kurator installs for each fleet plugin component, with its default values.

Kurator embeds one small YAML file per component (kurator-dev/kurator
`pkg/fleet-manager/manifests/plugins/*.yaml` at b6339412); these constants carry the same data so
that the compiler needs no package data and reads nothing at run time.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ChartConfig:
    """Where a component's chart comes from and where it is installed (Kurator's ChartConfig)."""

    type: str  # the HelmRepository type: "oci" or "default"
    repo: str
    name: str
    version: str
    target_namespace: str = ""
    values: dict[str, Any] = field(default_factory=dict)

    def fresh_values(self) -> dict[str, Any]:
        """A private copy: Kurator's merges change the maps they are given."""
        return copy.deepcopy(self.values)


_BITNAMI = "oci://registry-1.docker.io/bitnamicharts"
_KYVERNO = "https://kyverno.github.io/kyverno/"
_ROOK = "https://charts.rook.io/release"
_SUBMARINER = "https://submariner-io.github.io/submariner-charts/charts"

CHARTS: dict[str, ChartConfig] = {
    "thanos": ChartConfig(
        "oci",
        _BITNAMI,
        "thanos",
        "12.5.1",
        "monitoring",
        {
            "query": {
                "dnsDiscovery": {
                    "sidecarsService": "thanos-sidecar-remote",
                    "sidecarsNamespace": "monitoring",
                }
            },
            "queryFrontend": {"enabled": False},
            "bucketweb": {"enabled": False},
            "compactor": {"enabled": False},
            "storegateway": {"enabled": True},
            "ruler": {"enabled": False},
            "metrics": {"enabled": False},
            "minio": {"enabled": False},
        },
    ),
    "prometheus": ChartConfig(
        "oci",
        _BITNAMI,
        "kube-prometheus",
        "8.9.1",
        "monitoring",
        {
            "fullnameOverride": "prometheus",
            "alertmanager": {"enabled": False},
            "exporters": {
                "enabled": False,
                "node-exporter": {"enabled": False},
                "kube-state-metrics": {"enabled": False},
            },
            "blackboxExporter": {"enabled": False},
            "operator": {"service": {"type": "ClusterIP"}},
            "prometheus": {
                "disableCompaction": True,
                "thanos": {
                    "create": True,
                    "service": {"type": "LoadBalancer"},
                    "objectStorageConfig": {
                        "secretKey": "objstore.yml",
                        "secretName": "thanos-objstore",
                    },
                },
                "service": {"type": "ClusterIP"},
            },
        },
    ),
    "grafana": ChartConfig(
        "oci",
        _BITNAMI,
        "grafana",
        "8.2.33",
        "monitoring",
        {
            "fullnameOverride": "grafana",
            "admin": {"password": "admin"},
            "service": {"type": "LoadBalancer"},
        },
    ),
    "kyverno": ChartConfig(
        "default", _KYVERNO, "kyverno", "3.0.0", "kyverno", {"fullnameOverride": "kyverno"}
    ),
    "kyverno-policies": ChartConfig(
        "default",
        _KYVERNO,
        "kyverno-policies",
        "3.0.0",
        "kyverno",
        {"fullnameOverride": "kyverno-policies"},
    ),
    "velero": ChartConfig(
        "default",
        "https://vmware-tanzu.github.io/helm-charts",
        "velero",
        "5.0.2",
        "velero",
        {
            "image": {"repository": "velero/velero", "tag": "v1.11.1"},
            "deployNodeAgent": True,
            "defaultVolumesToFsBackup": True,
            "snapshotsEnabled": False,
        },
    ),
    "rook": ChartConfig("default", _ROOK, "rook-ceph", "1.11.11", "rook-ceph"),
    "rook-ceph": ChartConfig("default", _ROOK, "rook-ceph-cluster", "1.11.11", "rook-ceph"),
    "flagger": ChartConfig(
        "oci",
        "oci://ghcr.io/fluxcd/charts",
        "flagger",
        "1.x",
        "",
        {"nodeSelector": {"kubernetes.io/os": "linux"}},
    ),
    "testloader": ChartConfig("default", "https://flagger.app", "loadtester", "0.30.0"),
    "kuma": ChartConfig(
        "default", "https://kumahq.github.io/charts", "kuma", "2.7.3", "kuma-system"
    ),
    "nginx": ChartConfig(
        "default",
        "https://kubernetes.github.io/ingress-nginx",
        "ingress-nginx",
        "4.x",
        "ingress-nginx",
        {
            "controller": {
                "metrics": {"enabled": True},
                # Typed as written upstream (a bool and an int), not as annotation strings.
                "podAnnotations": {"prometheus.io/scrape": True, "prometheus.io/port": 10254},
            }
        },
    ),
    "sm-broker": ChartConfig(
        "default",
        _SUBMARINER,
        "submariner-k8s-broker",
        "0.18.0",
        "submariner-k8s-broker",
        {
            "rbac": {"create": True},
            "crd": {"create": True},
            "serviceAccounts": {"client": {"create": True}},
        },
    ),
    "sm-operator": ChartConfig(
        "default",
        _SUBMARINER,
        "submariner-operator",
        "0.18.0",
        "submariner-operator",
        {
            "broker": {"namespace": "submariner-k8s-broker", "globalnet": True},
            "submariner": {
                "serviceDiscovery": True,
                "cableDriver": "libreswan",
                "natEnabled": False,
            },
            "serviceAccounts": {
                "globalnet": {"create": True},
                "lighthouseAgent": {"create": True},
                "lighthouseCoreDns": {"create": True},
            },
        },
    ),
}

# The namespace Flagger, the public testloader and the provider chart go to (ProviderNamespace).
PROVIDER_NAMESPACE: dict[str, str] = {
    "istio": "istio-system",
    "kuma": "kuma-system",
    "nginx": "ingress-nginx",
}
