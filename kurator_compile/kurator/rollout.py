"""Kurator's rollout (`pkg/fleet-manager/application/rollout_helper.go` and
`manifests/rollout_testloader.go`): a sync policy's `rollout` becomes, in every destination
member and in the workload's namespace, a Flagger Canary, its MetricTemplates, an optional
private load tester, the shared nginx Ingress, and the sidecar-injection mark on the namespace.

Kurator writes these straight into the members (`Generated.cluster` is the member's name, or
HOST when the application has no fleet). Where its code and its documentation part ways,
this follows the documentation; each such place says so.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import Diagnostic
from ..fields import as_dict, as_list
from ..yamldoc import Document
from .application import (
    APPLICATION_KIND,
    CURRENT_CLUSTER_NAME,
    PolicyDestination,
    application_destinations,
    dotted,
    duplicate_errors,
    unique_objects,
)
from .inventory import HOST, Generated, KuratorInputs

ROLLOUT_ANNOTATION = "kurator.dev/rollout"
FLAGGER_API = "flagger.app/v1beta1"
ISTIO_INJECTION = "istio-injection"
KUMA_INJECTION = "kuma.io/sidecar-injection"
KUMA_PROTOCOL_ANNOTATION = "9898.service.kuma.io/protocol"
INGRESS_NAME = "nginx"
INGRESS_CLASS_ANNOTATION = "kubernetes.io/ingress.class"
# Where each provider's Flagger and public load tester live (`plugin.ProviderNamespace`).
PROVIDER_NAMESPACES: Mapping[str, str] = {
    "istio": "istio-system",
    "kuma": "kuma-system",
    "nginx": "ingress-nginx",
}
BUILTIN_METRICS = ("request-success-rate", "request-duration")
# The API documents these as "Defaults to 60"; Kurator's code dereferences them unset.
DEFAULT_METRIC_INTERVAL = 60
DEFAULT_WEBHOOK_TIMEOUT = 60
LOADTESTER_IMAGE = "ghcr.io/fluxcd/flagger-loadtester:0.29.0"
_HEALTH_PROBE = ["wget", "--quiet", "--tries=1", "--timeout=4", "--spider"]


@dataclass(frozen=True)
class _Rollout:
    """One validated `syncPolicies[].rollout`, with Kurator's webhook defaults applied."""

    dest: PolicyDestination
    pointer: str
    provider: str
    workload: Mapping[str, Any]
    namespace: str
    service_name: str
    port: int
    test_loader: bool
    routing: Mapping[str, Any]
    analysis: Mapping[str, Any]
    policy: Mapping[str, Any]  # rolloutPolicy
    target_port: object | None  # from the workload's Service

    @property
    def policy_name(self) -> str:
        return self.dest.name

    @property
    def doc(self) -> Document:
        return self.dest.app


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _find_service(inputs: KuratorInputs, name: str, namespace: str) -> Document | None:
    return inputs.find("Service", namespace, name)


def _target_port(service: Document, port: int) -> object | None:
    """The Service port's targetPort, as the API server stores it (defaulted to the port)."""
    for entry in as_list(as_dict(as_dict(service.data).get("spec")).get("ports")):
        entry = as_dict(entry)
        if entry.get("port") == port:
            target: object = entry.get("targetPort", port)
            return target
    return None


def _required_int(
    parent: Mapping[str, Any], key: str, doc: Document, at: str, errors: list[Diagnostic]
) -> int:
    value = parent.get(key)
    if not _is_int(value):
        what = "is required" if value is None else f"must be an integer, not {value!r}"
        errors.append(Diagnostic.error(f"{dotted(at)}.{key} {what}", doc.locate(f"{at}/{key}")))
        return 0
    assert isinstance(value, int)
    return value


def _read_rollout(
    dest: PolicyDestination, inputs: KuratorInputs
) -> tuple[_Rollout | None, list[Diagnostic]]:
    """The rollout's fields, Kurator's webhook rules (`defaultSyncPolicies`) and the checks
    whose absence would stop Kurator's reconcile (a missing Service, a nil dereference)."""
    doc = dest.app
    at = f"{dest.pointer}/rollout"
    raw = dest.policy.get("rollout")
    if not isinstance(raw, dict):
        return None, [Diagnostic.error(f"{dotted(at)} must be a mapping", doc.locate(at))]
    errors: list[Diagnostic] = []
    warnings: list[Diagnostic] = []
    provider = raw.get("trafficRoutingProvider")
    if provider not in PROVIDER_NAMESPACES:
        errors.append(
            Diagnostic.error(
                f"trafficRoutingProvider must be one of istio, kuma or nginx, not {provider!r}",
                doc.locate(f"{at}/trafficRoutingProvider"),
            )
        )
    workload = as_dict(raw.get("workload"))
    for key in ("name", "namespace"):
        if not isinstance(workload.get(key), str) or not workload.get(key):
            errors.append(
                Diagnostic.error(
                    f"{dotted(at)}.workload.{key} is required: the canary and its services "
                    "live in the workload's namespace",
                    doc.locate(f"{at}/workload"),
                )
            )
    service_name = raw.get("serviceName")
    if not isinstance(service_name, str) or not service_name:
        errors.append(Diagnostic.error(f"{dotted(at)}.serviceName is required", doc.locate(at)))
        service_name = ""
    port = _required_int(raw, "port", doc, at, errors)
    test_loader = raw.get("testLoader", False)
    if not isinstance(test_loader, bool):
        errors.append(
            Diagnostic.error(
                f"testLoader must be true or false, not {test_loader!r}",
                doc.locate(f"{at}/testLoader"),
            )
        )
    policy = raw.get("rolloutPolicy")
    if not isinstance(policy, dict):
        errors.append(Diagnostic.error(f"{dotted(at)}.rolloutPolicy is required", doc.locate(at)))
        policy = {}
    routing = copy.deepcopy(as_dict(policy.get("trafficRouting")))
    analysis = policy.get("trafficAnalysis")
    analysis_at = f"{at}/rolloutPolicy/trafficAnalysis"
    if not isinstance(analysis, dict):
        errors.append(
            Diagnostic.error(
                f"{dotted(analysis_at)} is required (checkIntervalSeconds, checkFailedTimes)",
                doc.locate(f"{at}/rolloutPolicy"),
            )
        )
        analysis = {}
    else:
        _required_int(analysis, "checkIntervalSeconds", doc, analysis_at, errors)
        _required_int(analysis, "checkFailedTimes", doc, analysis_at, errors)
        for i, metric in enumerate(as_list(analysis.get("metrics"))):
            if not as_dict(metric).get("name"):
                errors.append(
                    Diagnostic.error(
                        "a metric needs a name", doc.locate(f"{analysis_at}/metrics/{i}")
                    )
                )
    routing_at = f"{at}/rolloutPolicy/trafficRouting"
    if provider == "nginx" and not routing.get("host"):
        errors.append(
            Diagnostic.error(
                "the nginx provider needs rolloutPolicy.trafficRouting.host: Kurator routes "
                "the canary through an Ingress rule for that host",
                doc.locate(routing_at if "trafficRouting" in policy else f"{at}/rolloutPolicy"),
            )
        )
    if provider == "kuma" and not routing.get("protocol"):
        routing["protocol"] = "http"  # Kurator's webhook default
    if routing.get("canaryStrategy") is not None and routing.get("analysisTimes"):
        warnings.append(
            Diagnostic.warning(
                "canaryStrategy and analysisTimes are meant to be exclusive (canary vs A/B or "
                "blue-green); Flagger runs a canary with analysisTimes iterations",
                doc.locate(f"{routing_at}/analysisTimes"),
            )
        )
    for ignored in ("primary", "preview"):
        if raw.get(ignored) is not None:
            warnings.append(
                Diagnostic.warning(
                    f"rollout.{ignored} is not applied: Kurator never copies it to the Canary",
                    doc.locate(f"{at}/{ignored}"),
                )
            )
    if errors:
        return None, errors + warnings
    namespace = str(workload["namespace"])
    service = _find_service(inputs, service_name, namespace)
    if service is None:
        missing = Diagnostic.error(
            f"Service {namespace}/{service_name} is not among the inputs: Kurator reads its "
            "ports to build the canary service",
            doc.locate(f"{at}/serviceName"),
        )
        return None, [*warnings, missing]
    target_port = _target_port(service, port)
    if target_port is None:
        warnings.append(
            Diagnostic.warning(
                f"Service {namespace}/{service_name} has no port {port}; the canary targets "
                f"port {port}",
                service.locate("/spec/ports"),
            )
        )
    rollout = _Rollout(
        dest=dest,
        pointer=at,
        provider=str(provider),
        workload=workload,
        namespace=namespace,
        service_name=service_name,
        port=port,
        test_loader=bool(test_loader),
        routing=routing,
        analysis=analysis,
        policy=policy,
        target_port=target_port,
    )
    return rollout, warnings


def _seconds(value: object) -> str:
    return f"{value}s"


def _canary_service(rollout: _Rollout) -> dict[str, Any]:
    """`renderCanaryService`: provider-specific routing and the live Service's targetPort."""
    routing = rollout.routing
    service: dict[str, Any] = {"name": rollout.service_name, "port": rollout.port}
    if rollout.target_port is not None:
        service["targetPort"] = rollout.target_port
    service["timeout"] = _seconds(routing.get("timeoutSeconds") or 0)
    if rollout.provider == "istio":
        for key in ("gateways", "hosts", "retries", "headers", "corsPolicy"):
            if routing.get(key):
                service[key] = copy.deepcopy(routing[key])
    elif rollout.provider == "kuma":
        for key in ("apex", "canary", "primary"):
            service[key] = {"annotations": {KUMA_PROTOCOL_ANNOTATION: routing["protocol"]}}
    return service


def _webhook_url(rollout: _Rollout, cluster_name: str) -> str:
    """The load tester the analysis webhooks call.

    Kurator's code names the private tester's URL after the service but installs it under the
    workload's name; the URL here is the installed one, so the documented private load tester
    is the one that runs the commands. The public one is the fleet's flagger plugin release.
    """
    if rollout.test_loader:
        return f"http://{rollout.workload['name']}-testloader.{rollout.namespace}/"
    ns = PROVIDER_NAMESPACES[rollout.provider]
    return f"http://{ns}-testloader-{cluster_name}-loadtester.{ns}/"


def _canary_analysis(rollout: _Rollout, cluster_name: str) -> dict[str, Any]:
    """`renderCanaryAnalysis`, with the documented 60s defaults where Kurator dereferences."""
    routing = rollout.routing
    analysis = rollout.analysis
    result: dict[str, Any] = {"interval": _seconds(analysis["checkIntervalSeconds"])}
    if routing.get("analysisTimes"):
        result["iterations"] = routing["analysisTimes"]
    strategy = as_dict(routing.get("canaryStrategy"))
    for key in ("maxWeight", "stepWeight", "stepWeights", "stepWeightPromotion"):
        if strategy.get(key):
            result[key] = copy.deepcopy(strategy[key])
    result["threshold"] = analysis["checkFailedTimes"]
    if routing.get("match"):
        result["match"] = copy.deepcopy(routing["match"])
    affinity = as_dict(analysis.get("sessionAffinity"))
    if analysis.get("sessionAffinity") is not None:
        result["sessionAffinity"] = {
            k: affinity[k] for k in ("cookieName", "maxAge") if affinity.get(k)
        }
    metrics: list[dict[str, Any]] = []
    for raw in as_list(analysis.get("metrics")):
        metric = as_dict(raw)
        entry: dict[str, Any] = {
            "name": metric["name"],
            "interval": _seconds(metric.get("intervalSeconds", DEFAULT_METRIC_INTERVAL)),
        }
        threshold = metric.get("thresholdRange")
        if isinstance(threshold, dict):
            entry["thresholdRange"] = {
                k: threshold[k] for k in ("min", "max") if threshold.get(k) is not None
            }
        if metric["name"] not in BUILTIN_METRICS:
            entry["templateRef"] = {"name": metric["name"], "namespace": rollout.namespace}
        metrics.append(entry)
    if metrics:
        result["metrics"] = metrics
    webhooks = as_dict(analysis.get("webhooks"))
    commands = [str(c) for c in as_list(webhooks.get("command"))]
    if commands:
        url = _webhook_url(rollout, cluster_name)
        timeout = _seconds(webhooks.get("timeoutSeconds", DEFAULT_WEBHOOK_TIMEOUT))
        result["webhooks"] = [
            {
                "name": f"generated-testload-{i}",
                "url": url,
                "timeout": timeout,
                "metadata": {"type": "cmd", "cmd": command},
            }
            for i, command in enumerate(commands)
        ]
    return result


def canary(rollout: _Rollout, cluster_name: str) -> dict[str, Any]:
    """`renderCanary` + service + analysis. Its annotations are Kurator's final
    `{kurator.dev/rollout: <policy>}` alone: the keys Kurator's shared annotation map picks up
    on the way (the nginx ingress class, kuma's sidecar injection) are not the Canary's."""
    workload = rollout.workload
    target = {k: workload[k] for k in ("apiVersion", "kind") if workload.get(k)}
    target["name"] = workload["name"]
    spec: dict[str, Any] = {"provider": rollout.provider, "targetRef": target}
    if rollout.provider == "nginx":
        spec["ingressRef"] = {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "name": INGRESS_NAME,
        }
    spec["service"] = _canary_service(rollout)
    spec["analysis"] = _canary_analysis(rollout, cluster_name)
    if rollout.policy.get("rolloutTimeoutSeconds") is not None:
        spec["progressDeadlineSeconds"] = rollout.policy["rolloutTimeoutSeconds"]
    for ours, theirs in (
        ("skipTrafficAnalysis", "skipAnalysis"),
        ("revertOnDeletion", "revertOnDeletion"),
        ("suspend", "suspend"),
    ):
        if rollout.policy.get(ours):
            spec[theirs] = True
    return {
        "apiVersion": FLAGGER_API,
        "kind": "Canary",
        "metadata": {
            "name": workload["name"],
            "namespace": rollout.namespace,
            "annotations": {ROLLOUT_ANNOTATION: rollout.policy_name},
        },
        "spec": spec,
    }


def metric_templates(rollout: _Rollout) -> list[dict[str, Any]]:
    """`applyMetricTemplate`: one MetricTemplate per custom metric, spec verbatim."""
    templates = []
    for raw in as_list(rollout.analysis.get("metrics")):
        metric = as_dict(raw)
        if metric.get("customMetric") is None:
            continue
        templates.append(
            {
                "apiVersion": FLAGGER_API,
                "kind": "MetricTemplate",
                "metadata": {
                    "name": metric["name"],
                    "namespace": rollout.namespace,
                    "annotations": {ROLLOUT_ANNOTATION: rollout.policy_name},
                },
                "spec": copy.deepcopy(metric["customMetric"]),
            }
        )
    return templates


def _testloader_metadata(name: str, namespace: str, policy: str) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": namespace,
        "labels": {"app": name},
        "annotations": {ROLLOUT_ANNOTATION: policy},
    }


def private_testloader_deployment(name: str, namespace: str, policy: str) -> dict[str, Any]:
    """`RenderTestloaderConfig(TestlaoderDeployment, ...)`: Flagger's load tester, privately."""
    probe = {
        "exec": {"command": [*_HEALTH_PROBE, "http://localhost:8080/healthz"]},
        "timeoutSeconds": 5,
    }
    container = {
        "name": "loadtester",
        "image": LOADTESTER_IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": 8080}],
        "command": ["./loadtester", "-port=8080", "-log-level=info", "-timeout=1h"],
        "livenessProbe": probe,
        "readinessProbe": copy.deepcopy(probe),
        "resources": {
            "limits": {"memory": "512Mi", "cpu": "1000m"},
            "requests": {"memory": "32Mi", "cpu": "10m"},
        },
        "securityContext": {"readOnlyRootFilesystem": True, "runAsUser": 10001},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _testloader_metadata(name, namespace, policy),
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {
                    "labels": {"app": name},
                    "annotations": {
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": "8080",
                        "openservicemesh.io/inbound-port-exclusion-list": "80, 8080",
                    },
                },
                "spec": {"containers": [container]},
            },
        },
    }


def private_testloader_service(name: str, namespace: str, policy: str) -> dict[str, Any]:
    """`RenderTestloaderConfig(TestlaoderService, ...)`."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _testloader_metadata(name, namespace, policy),
        "spec": {
            "type": "ClusterIP",
            "selector": {"app": name},
            "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": "http"}],
        },
    }


def _ingress_rule(rollout: _Rollout) -> dict[str, Any]:
    backend = {"service": {"name": rollout.service_name, "port": {"number": rollout.port}}}
    path = {"path": "/", "pathType": "Prefix", "backend": backend}
    return {"host": rollout.routing["host"], "http": {"paths": [path]}}


def _merge_ingress(existing: dict[str, Any] | None, rollout: _Rollout) -> dict[str, Any]:
    """`renderNginxIngress`: one Ingress per namespace, a rule and a label entry per canary;
    the rollout annotation names the last policy that wrote it, as Kurator's update does."""
    if existing is None:
        existing = {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": INGRESS_NAME, "namespace": rollout.namespace, "labels": {}},
            "spec": {"rules": []},
        }
    meta = existing["metadata"]
    services = {s for s in str(meta["labels"].get("app", "")).split(",") if s}
    services.add(rollout.service_name)
    meta["labels"]["app"] = ",".join(sorted(services))
    meta["annotations"] = {
        ROLLOUT_ANNOTATION: rollout.policy_name,
        INGRESS_CLASS_ANNOTATION: "nginx",
    }
    existing["spec"]["rules"].append(_ingress_rule(rollout))
    return existing


def _find_namespace(inputs: KuratorInputs, name: str) -> Document | None:
    return inputs.find("Namespace", "", name)


def _mark_namespace(
    existing: dict[str, Any] | None,
    rollout: _Rollout,
    inputs: KuratorInputs,
    errors: list[Diagnostic],
) -> dict[str, Any]:
    """`enableSidecarInjection`: create the namespace marked for injection, or add the mark to
    the input's Namespace (a conflicting value is an error, as Kurator refuses it)."""
    created = existing is None
    if existing is None:
        given = _find_namespace(inputs, rollout.namespace)
        if given is not None:
            existing = copy.deepcopy(as_dict(given.data))
            created = False
        else:
            existing = {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {
                    "name": rollout.namespace,
                    "annotations": {ROLLOUT_ANNOTATION: rollout.policy_name},
                },
            }
    meta = existing.setdefault("metadata", {})
    field, key = (
        ("labels", ISTIO_INJECTION)
        if rollout.provider == "istio"
        else ("annotations", KUMA_INJECTION)
    )
    marks = meta.get(field)
    if not isinstance(marks, dict):
        marks = meta[field] = {}
    if marks.get(key, "enabled") != "enabled" and not created:
        errors.append(
            Diagnostic.error(
                f"Namespace {rollout.namespace} has {field[:-1]} {key}={marks[key]!r}; the "
                f"{rollout.provider} rollout needs {key}=enabled",
                rollout.doc.locate(f"{rollout.pointer}/trafficRoutingProvider"),
            )
        )
    marks[key] = "enabled"
    return existing


def _clusters(dest: PolicyDestination) -> list[tuple[str, str]]:
    """(output cluster, name Kurator uses for it): the selected members, or Kurator's own."""
    if dest.fleet is None:
        return [(HOST, CURRENT_CLUSTER_NAME)]
    return [(m.name, m.name) for m in dest.selected]


def compile_rollout(inputs: KuratorInputs) -> tuple[list[Generated], list[Diagnostic]]:
    """Every rollout's objects in its destination clusters. Destination errors (fleet rules,
    missing fleet) are `compile_application`'s to report; such applications are skipped here."""
    objects: list[Generated] = []
    diagnostics: list[Diagnostic] = []
    shared: dict[tuple[str, str, str], tuple[dict[str, Any], Document]] = {}
    order: list[tuple[str, str, str]] = []
    for app in inputs.documents.get(APPLICATION_KIND, ()):
        destinations, errors = application_destinations(app, inputs)
        if errors:
            continue
        for dest in destinations:
            if dest.policy.get("rollout") is None:
                continue
            rollout, found = _read_rollout(dest, inputs)
            diagnostics += found
            if rollout is None:
                continue
            for cluster, cluster_name in _clusters(dest):
                if rollout.provider == "nginx":
                    key = (cluster, "Ingress", rollout.namespace)
                    merged = _merge_ingress(shared.get(key, (None, app))[0], rollout)
                else:
                    key = (cluster, "Namespace", rollout.namespace)
                    merged = _mark_namespace(
                        shared.get(key, (None, app))[0], rollout, inputs, diagnostics
                    )
                if key not in shared:
                    order.append(key)
                shared[key] = (merged, shared.get(key, (merged, app))[1])
                if rollout.test_loader:
                    name = f"{rollout.workload['name']}-testloader"
                    for data in (
                        private_testloader_deployment(name, rollout.namespace, rollout.policy_name),
                        private_testloader_service(name, rollout.namespace, rollout.policy_name),
                    ):
                        objects.append(Generated(cluster, data, app))
                for data in metric_templates(rollout):
                    objects.append(Generated(cluster, data, app))
                objects.append(Generated(cluster, canary(rollout, cluster_name), app))
    objects = [Generated(k[0], shared[k][0], shared[k][1]) for k in order] + objects
    diagnostics += duplicate_errors(
        objects, "give each rollout its own workload and custom metric names per namespace"
    )
    # One mistake found again in each destination member is reported once.
    return unique_objects(objects), list(dict.fromkeys(diagnostics))
