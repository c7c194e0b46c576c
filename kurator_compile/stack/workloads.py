"""What a workload's pod template refers to and which pods a selector picks: shared by the
dependents that follow workloads and by the consistency checks."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ..fields import as_dict, as_list
from ..placement.selectors import label_selector_matches

WORKLOAD_KINDS = frozenset(
    {
        ("apps", "Deployment"),
        ("apps", "StatefulSet"),
        ("apps", "DaemonSet"),
        ("apps", "ReplicaSet"),
        ("batch", "Job"),
        ("batch", "CronJob"),
        ("apps.kubeedge.io", "EdgeApplication"),  # runs its Deployment manifests' pods
    }
)


def pod_template(data: Mapping[str, Any]) -> dict[str, Any]:
    spec = as_dict(data.get("spec"))
    if data.get("kind") == "CronJob":
        spec = as_dict(as_dict(spec.get("jobTemplate")).get("spec"))
    elif data.get("kind") == "EdgeApplication":
        manifests = as_list(as_dict(spec.get("workloadTemplate")).get("manifests"))
        deployments = [m for m in manifests if as_dict(m).get("kind") == "Deployment"]
        spec = as_dict(as_dict(deployments[0]).get("spec")) if deployments else {}
    return as_dict(spec.get("template"))


def pod_labels(data: Mapping[str, Any]) -> dict[str, str]:
    labels = as_dict(as_dict(pod_template(data).get("metadata")).get("labels"))
    return {str(k): str(v) for k, v in labels.items()}


def _containers(pod_spec: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    for field in ("initContainers", "containers", "ephemeralContainers"):
        for container in as_list(pod_spec.get(field)):
            if isinstance(container, dict):
                yield container


def references(data: Mapping[str, Any]) -> set[tuple[str, str]]:
    """(kind, name) of the ConfigMaps, Secrets, ServiceAccounts and PVCs a pod template uses,
    the dependencies Karmada's propagateDeps follows."""
    pod = as_dict(pod_template(data).get("spec"))
    found: set[tuple[str, str]] = set()

    def add(kind: str, name: Any) -> None:
        if isinstance(name, str) and name:
            found.add((kind, name))

    add("ServiceAccount", pod.get("serviceAccountName"))
    for secret in as_list(pod.get("imagePullSecrets")):
        add("Secret", as_dict(secret).get("name"))
    for volume in as_list(pod.get("volumes")):
        volume = as_dict(volume)
        add("ConfigMap", as_dict(volume.get("configMap")).get("name"))
        add("Secret", as_dict(volume.get("secret")).get("secretName"))
        add("PersistentVolumeClaim", as_dict(volume.get("persistentVolumeClaim")).get("claimName"))
        for source in as_list(as_dict(volume.get("projected")).get("sources")):
            add("ConfigMap", as_dict(as_dict(source).get("configMap")).get("name"))
            add("Secret", as_dict(as_dict(source).get("secret")).get("name"))
    for container in _containers(pod):
        for env_from in as_list(container.get("envFrom")):
            add("ConfigMap", as_dict(as_dict(env_from).get("configMapRef")).get("name"))
            add("Secret", as_dict(as_dict(env_from).get("secretRef")).get("name"))
        for env in as_list(container.get("env")):
            source = as_dict(as_dict(env).get("valueFrom"))
            add("ConfigMap", as_dict(source.get("configMapKeyRef")).get("name"))
            add("Secret", as_dict(source.get("secretKeyRef")).get("name"))
    return found


def service_selects(service: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    selector = as_dict(as_dict(service.get("spec")).get("selector"))
    return bool(selector) and all(labels.get(str(k)) == str(v) for k, v in selector.items())


def selector_selects(selector: Any, labels: Mapping[str, str]) -> bool:
    """A metav1.LabelSelector (PDB); an empty or missing one selects nothing here."""
    return bool(selector) and label_selector_matches(selector, labels)


def ingress_services(ingress: Mapping[str, Any]) -> set[str]:
    spec = as_dict(ingress.get("spec"))
    names = set()
    default = as_dict(as_dict(spec.get("defaultBackend")).get("service")).get("name")
    if isinstance(default, str):
        names.add(default)
    for rule in as_list(spec.get("rules")):
        for path in as_list(as_dict(as_dict(rule).get("http")).get("paths")):
            name = as_dict(as_dict(as_dict(path).get("backend")).get("service")).get("name")
            if isinstance(name, str):
                names.add(name)
    return names


def has_spreading(data: Mapping[str, Any]) -> bool:
    """Pod anti-affinity or topology spread constraints: replicas will not share a node."""
    pod = as_dict(pod_template(data).get("spec"))
    anti = as_dict(as_dict(pod.get("affinity")).get("podAntiAffinity"))
    return bool(anti) or bool(as_list(pod.get("topologySpreadConstraints")))
