"""Kurator's rollout, compiled offline.

Upstream: kurator-dev/kurator, commit b6339412dc3b0a408a99b14531ae233e9de9d652,
`pkg/fleet-manager/application/rollout_helper.go` (+ `rollout_helper_test.go`, whose expected
values are reproduced here), `manifests/rollout_testloader.go` (+ its testdata) and
`pkg/webhooks/application_webhook.go`. Inputs: Kurator's examples/rollout/*.yaml, copied under
tests/kurator/upstream.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from kurator_kit import (
    EXAMPLES,
    UPSTREAM,
    by_kind,
    fleet_of,
    inputs,
    load,
    load_text,
    member_of,
    quickstart,
)

from kurator_compile.errors import Diagnostic
from kurator_compile.kurator.inventory import HOST, Generated, KuratorFleet, KuratorInputs
from kurator_compile.kurator.rollout import (
    compile_rollout,
    private_testloader_deployment,
    private_testloader_service,
)
from kurator_compile.yamldoc import Document

ROLLOUT = EXAMPLES / "rollout"
TESTDATA = UPSTREAM / "pkg" / "fleet-manager" / "application" / "manifests" / "testdata"
MEMBERS = ("kurator-member1", "kurator-member2")

BACKEND_SERVICE = """apiVersion: v1
kind: Service
metadata:
  name: backend
  namespace: webapp
spec:
  type: ClusterIP
  selector:
    app: backend
  ports:
    - name: http
      port: 9898
      protocol: TCP
      targetPort: http
"""


def backend() -> list[Document]:
    """The Service examples/rollout targets (podinfo's deploy/webapp/backend/service.yaml)."""
    return load_text(BACKEND_SERVICE, "backend-service.yaml")


def example(name: str, resources: list[Document] | None = None) -> KuratorInputs:
    apps = load(ROLLOUT / name)
    return inputs(apps, [quickstart()], backend() if resources is None else resources)


def in_cluster(objects: list[Generated], cluster: str, kind: str) -> list[dict[str, Any]]:
    return [o.data for o in by_kind(objects, kind) if o.cluster == cluster]


def one(objects: list[Generated], cluster: str, kind: str) -> dict[str, Any]:
    (found,) = in_cluster(objects, cluster, kind)
    return found


def errors_of(diagnostics: list[Diagnostic]) -> list[tuple[str, str]]:
    return [
        (d.location.pointer if d.location else "", d.message) for d in diagnostics if d.is_error
    ]


def warnings_of(diagnostics: list[Diagnostic]) -> list[str]:
    return [d.location.pointer if d.location else "" for d in diagnostics if not d.is_error]


# ---- rollout_helper_test.go: `generateRolloutPolicy`, written as an Application -----------

GO_TEST_APP = """apiVersion: apps.kurator.dev/v1alpha1
kind: Application
metadata:
  name: podinfo-app
  namespace: default
spec:
  source:
    gitRepository:
      interval: 3m
      url: https://github.com/stefanprodan/podinfo
  destination:
    fleet: go-test
  syncPolicies:
    - name: policy
      kustomization: {interval: 0s, prune: true, path: ./deploy/webapp}
      rollout:
        testLoader: TESTLOADER
        trafficRoutingProvider: istio
        workload: {apiVersion: appv1/deployment, kind: Deployment, name: podinfo, namespace: test}
        serviceName: podinfo-service
        port: 80
        rolloutPolicy:
          trafficRouting:
            timeoutSeconds: 50
            gateways: [istio-system/public-gateway]
            hosts: [app.example.com]
            retries:
              attempts: 10
              perTryTimeout: 40s
              retryOn: gateway-error, connect-failure, refused-stream
            headers: {request: {add: {x-some-header: value}}}
            corsPolicy:
              allowOrigin: [example]
              allowMethods: [GET]
              allowHeaders: [x-some-header]
              maxAge: 24h
            canaryStrategy: {maxWeight: 50, stepWeight: 10, stepWeights: [1, 20, 40, 80],
                             stepWeightPromotion: 30}
            analysisTimes: 5
            match:
              - headers:
                  user-agent: {regex: ".*Firefox.*"}
                  cookie: {regex: "^(.*?;)?(type=insider)(;.*)?$"}
          trafficAnalysis:
            checkIntervalSeconds: 50
            checkFailedTimes: 50
            metrics:
              - {name: request-success-rate, intervalSeconds: 50, thresholdRange: {min: 99.0}}
              - SECOND_METRIC
            webhooks:
              timeoutSeconds: 50
              command:
                - "hey -z 1m -q 10 -c 2 http://podinfo-canary.test:9898/"
                - "curl -sd 'test' http://podinfo-canary:9898/token | grep token"
            sessionAffinity: {cookieName: User, maxAge: 24}
          rolloutTimeoutSeconds: 50
"""
DURATION_METRIC = "{name: request-duration, intervalSeconds: 50, thresholdRange: {max: 500.0}}"
CUSTOM_METRIC = """name: my-metric
                intervalSeconds: 50
                thresholdRange: {max: 500.0}
                customMetric:
                  provider: {type: prometheus, address: "http://flagger-prometheus.ingress-nginx:9090"}
                  query: sum(rate(http_requests_total[{{ interval }}]))"""
GO_TEST_SERVICE = """apiVersion: v1
kind: Service
metadata: {name: podinfo-service, namespace: test}
spec:
  selector: {app: podinfo}
  ports: [{protocol: TCP, port: 80, targetPort: 8080}]
"""


def go_test_rollout(
    test_loader: bool = True, metric: str = DURATION_METRIC
) -> tuple[list[Generated], list[Diagnostic]]:
    """`generateRolloutPolicy` / `generateRolloutPolicyWithCustomMetric` on one member named
    `kurator-member`, the cluster name the Go tests render with."""
    text = GO_TEST_APP.replace("TESTLOADER", str(test_loader).lower()).replace(
        "SECOND_METRIC", metric
    )
    member = member_of(load_text(ATTACHED.replace("NAME", "kurator-member"))[0])
    fleet = KuratorFleet("go-test", "default", (member,))
    return compile_rollout(
        inputs(load_text(text), [fleet], load_text(GO_TEST_SERVICE, "service.yaml"))
    )


ATTACHED = """apiVersion: cluster.kurator.dev/v1alpha1
kind: AttachedCluster
metadata: {name: NAME, namespace: default}
spec:
  kubeconfig: {name: NAME, key: value}
"""

GO_TEST_MATCH = [
    {
        "headers": {
            "user-agent": {"regex": ".*Firefox.*"},
            "cookie": {"regex": "^(.*?;)?(type=insider)(;.*)?$"},
        }
    }
]
GO_TEST_COMMANDS = [
    "hey -z 1m -q 10 -c 2 http://podinfo-canary.test:9898/",
    "curl -sd 'test' http://podinfo-canary:9898/token | grep token",
]


def go_test_analysis(url: str, second_metric: dict[str, Any]) -> dict[str, Any]:
    return {
        "interval": "50s",
        "iterations": 5,
        "maxWeight": 50,
        "stepWeight": 10,
        "stepWeights": [1, 20, 40, 80],
        "stepWeightPromotion": 30,
        "threshold": 50,
        "match": GO_TEST_MATCH,
        "sessionAffinity": {"cookieName": "User", "maxAge": 24},
        "metrics": [
            {"name": "request-success-rate", "interval": "50s", "thresholdRange": {"min": 99.0}},
            second_metric,
        ],
        "webhooks": [
            {
                "name": f"generated-testload-{i}",
                "url": url,
                "timeout": "50s",
                "metadata": {"type": "cmd", "cmd": cmd},
            }
            for i, cmd in enumerate(GO_TEST_COMMANDS)
        ],
    }


DURATION_ENTRY = {"name": "request-duration", "interval": "50s", "thresholdRange": {"max": 500.0}}


def test_render_canary() -> None:
    """rollout_helper_test.go `Test_renderCanary` ("functional test"): metadata, provider,
    targetRef, progressDeadlineSeconds; Kurator's annotation on top."""
    objects, _ = go_test_rollout()
    canary = one(objects, "kurator-member", "Canary")
    assert canary["apiVersion"] == "flagger.app/v1beta1"
    assert canary["metadata"] == {
        "name": "podinfo",
        "namespace": "test",
        "annotations": {"kurator.dev/rollout": "policy"},
    }
    spec = canary["spec"]
    assert {k: spec[k] for k in ("provider", "targetRef", "progressDeadlineSeconds")} == {
        "provider": "istio",
        "targetRef": {"apiVersion": "appv1/deployment", "kind": "Deployment", "name": "podinfo"},
        "progressDeadlineSeconds": 50,
    }
    assert set(spec) == {"provider", "targetRef", "progressDeadlineSeconds", "service", "analysis"}


def test_render_canary_service() -> None:
    """rollout_helper_test.go `Test_renderCanaryService`: istio routing fields, `<n>s`
    timeout, and the targetPort of the Service's matching port."""
    objects, _ = go_test_rollout()
    assert one(objects, "kurator-member", "Canary")["spec"]["service"] == {
        "name": "podinfo-service",
        "port": 80,
        "timeout": "50s",
        "targetPort": 8080,
        "gateways": ["istio-system/public-gateway"],
        "hosts": ["app.example.com"],
        "retries": {
            "attempts": 10,
            "perTryTimeout": "40s",
            "retryOn": "gateway-error, connect-failure, refused-stream",
        },
        "headers": {"request": {"add": {"x-some-header": "value"}}},
        "corsPolicy": {
            "allowOrigin": ["example"],
            "allowMethods": ["GET"],
            "allowHeaders": ["x-some-header"],
            "maxAge": "24h",
        },
    }


def test_render_canary_analysis_private_testloader() -> None:
    """rollout_helper_test.go `Test_renderCanaryAnalysis` ("functional test"). One deliberate
    difference: upstream's URL names the private tester after the service
    (`podinfo-service-testloader`) while it installs it as `<workload>-testloader`; the URL
    here is the installed tester, `podinfo-testloader`."""
    objects, _ = go_test_rollout()
    analysis = one(objects, "kurator-member", "Canary")["spec"]["analysis"]
    assert analysis == go_test_analysis("http://podinfo-testloader.test/", DURATION_ENTRY)
    assert [d["metadata"]["name"] for d in in_cluster(objects, "kurator-member", "Deployment")] == [
        "podinfo-testloader"
    ]


def test_render_canary_analysis_public_testloader() -> None:
    """`Test_renderCanaryAnalysis` ("public Testloader"): the fleet plugin's load tester."""
    objects, _ = go_test_rollout(test_loader=False)
    analysis = one(objects, "kurator-member", "Canary")["spec"]["analysis"]
    url = "http://istio-system-testloader-kurator-member-loadtester.istio-system/"
    assert analysis == go_test_analysis(url, DURATION_ENTRY)
    assert in_cluster(objects, "kurator-member", "Deployment") == []


def test_render_canary_analysis_custom_metric() -> None:
    """`Test_renderCanaryAnalysis` ("Custom Metric Template") and `applyMetricTemplate`."""
    objects, _ = go_test_rollout(test_loader=False, metric=CUSTOM_METRIC)
    analysis = one(objects, "kurator-member", "Canary")["spec"]["analysis"]
    url = "http://istio-system-testloader-kurator-member-loadtester.istio-system/"
    custom = {
        "name": "my-metric",
        "interval": "50s",
        "thresholdRange": {"max": 500.0},
        "templateRef": {"name": "my-metric", "namespace": "test"},
    }
    assert analysis == go_test_analysis(url, custom)
    assert one(objects, "kurator-member", "MetricTemplate") == {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "MetricTemplate",
        "metadata": {
            "name": "my-metric",
            "namespace": "test",
            "annotations": {"kurator.dev/rollout": "policy"},
        },
        "spec": {
            "provider": {
                "type": "prometheus",
                "address": "http://flagger-prometheus.ingress-nginx:9090",
            },
            "query": "sum(rate(http_requests_total[{{ interval }}]))",
        },
    }


def test_go_test_policy_warns_about_strategy_and_analysis_times() -> None:
    """The API says canaryStrategy and analysisTimes are exclusive; the Go test sets both."""
    _, diagnostics = go_test_rollout()
    assert warnings_of(diagnostics) == [
        "/spec/syncPolicies/0/rollout/rolloutPolicy/trafficRouting/analysisTimes"
    ]


# ---- manifests/rollout_testloader_test.go: the private load tester -----------------------


@pytest.mark.parametrize(
    ("render", "golden"),
    [
        (private_testloader_deployment, "testloader-deploy.yaml"),
        (private_testloader_service, "testloader-svc.yaml"),
    ],
)
def test_render_testloader_config(render: Any, golden: str) -> None:
    """rollout_testloader_test.go `TestRenderTestloaderConfig`, against its testdata."""
    (expected,) = load(TESTDATA / golden)
    assert render("testloader", "test", "policy") == expected.data


# ---- examples/rollout -----------------------------------------------------------------------


def test_istio_canary_example() -> None:
    """`syncRolloutPolicyForCluster` for examples/rollout/canary.yaml (istio), in each member:
    the namespace created with the injection label, the private tester, the Canary."""
    objects, diagnostics = compile_rollout(example("canary.yaml"))
    assert diagnostics == []
    for member in MEMBERS:
        assert [o.data["kind"] for o in objects if o.cluster == member] == [
            "Namespace",
            "Deployment",
            "Service",
            "Canary",
        ]
    assert all(o.cluster in MEMBERS for o in objects)
    assert one(objects, "kurator-member1", "Namespace") == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": "webapp",
            "labels": {"istio-injection": "enabled"},
            "annotations": {"kurator.dev/rollout": "rollout-demo-0"},
        },
    }
    assert one(objects, "kurator-member2", "Deployment") == private_testloader_deployment(
        "backend-testloader", "webapp", "rollout-demo-0"
    )
    assert one(objects, "kurator-member2", "Canary") == {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {
            "name": "backend",
            "namespace": "webapp",
            "annotations": {"kurator.dev/rollout": "rollout-demo-0"},
        },
        "spec": {
            "provider": "istio",
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "backend"},
            "service": {
                "name": "backend",
                "port": 9898,
                "targetPort": "http",
                "timeout": "60s",
                "gateways": ["istio-system/public-gateway"],
                "hosts": ["backend.webapp"],
            },
            "analysis": {
                "interval": "90s",
                "maxWeight": 50,
                "stepWeight": 10,
                "threshold": 2,
                "metrics": [
                    {
                        "name": "request-success-rate",
                        "interval": "90s",
                        "thresholdRange": {"min": 99},
                    },
                    {"name": "request-duration", "interval": "90s", "thresholdRange": {"max": 500}},
                ],
                "webhooks": [
                    {
                        "name": "generated-testload-0",
                        "url": "http://backend-testloader.webapp/",
                        "timeout": "60s",
                        "metadata": {
                            "type": "cmd",
                            "cmd": "hey -z 1m -q 10 -c 2 http://backend-canary.webapp:9898/",
                        },
                    }
                ],
            },
            "progressDeadlineSeconds": 600,
        },
    }


def test_ab_testing_example() -> None:
    """examples/rollout/ab-testing.yaml: A/B is `iterations` + `match`, no weights."""
    objects, diagnostics = compile_rollout(example("ab-testing.yaml"))
    assert diagnostics == []
    analysis = one(objects, "kurator-member1", "Canary")["spec"]["analysis"]
    assert analysis["iterations"] == 3
    assert analysis["match"] == [
        {"headers": {"user-agent": {"regex": ".*Firefox.*"}}},
        {"headers": {"cookie": {"regex": "^(.*?;)?(type=insider)(;.*)?$"}}},
    ]
    assert not {"maxWeight", "stepWeight", "stepWeights"} & set(analysis)


def test_blue_green_example() -> None:
    """examples/rollout/blue_green.yaml: blue-green is `iterations` alone."""
    objects, _ = compile_rollout(example("blue_green.yaml"))
    analysis = one(objects, "kurator-member2", "Canary")["spec"]["analysis"]
    assert analysis["iterations"] == 3
    assert not {"match", "maxWeight", "stepWeight"} & set(analysis)


def test_kuma_canary_example() -> None:
    """examples/rollout/canaryKuma.yaml: `enableSidecarInjection` annotates the namespace;
    `renderCanaryService` puts the protocol (webhook default `http`) on all three services;
    the custom metric becomes a MetricTemplate."""
    objects, diagnostics = compile_rollout(example("canaryKuma.yaml"))
    assert diagnostics == []
    assert one(objects, "kurator-member1", "Namespace")["metadata"] == {
        "name": "webapp",
        "annotations": {
            "kurator.dev/rollout": "rollout-kuma-demo-0",
            "kuma.io/sidecar-injection": "enabled",
        },
    }
    canary = one(objects, "kurator-member1", "Canary")
    protocol = {"annotations": {"9898.service.kuma.io/protocol": "http"}}
    assert canary["spec"]["service"] == {
        "name": "backend",
        "port": 9898,
        "targetPort": "http",
        "timeout": "60s",
        "apex": protocol,
        "canary": protocol,
        "primary": protocol,
    }
    assert canary["metadata"]["annotations"] == {"kurator.dev/rollout": "rollout-kuma-demo-0"}
    template = one(objects, "kurator-member1", "MetricTemplate")
    assert template["metadata"]["name"] == "kuma-request-success-rate"
    assert template["spec"]["provider"] == {
        "type": "prometheus",
        "address": "http://prometheus-server.mesh-observability:80",
    }
    assert template["spec"]["query"].startswith("sum(\n  rate(\n")


def test_kuma_protocol_is_kept_when_given() -> None:
    text = (
        (ROLLOUT / "canaryKuma.yaml")
        .read_text()
        .replace("timeoutSeconds: 60\n", "timeoutSeconds: 60\n            protocol: grpc\n", 1)
    )
    objects, _ = compile_rollout(inputs(load_text(text), [quickstart()], backend()))
    service = one(objects, "kurator-member1", "Canary")["spec"]["service"]
    assert service["apex"] == {"annotations": {"9898.service.kuma.io/protocol": "grpc"}}


def test_nginx_canary_example() -> None:
    """examples/rollout/canaryNginx.yaml: `renderNginxIngress` and the Canary's ingressRef."""
    objects, diagnostics = compile_rollout(example("canaryNginx.yaml"))
    assert diagnostics == []
    assert in_cluster(objects, "kurator-member1", "Namespace") == []
    assert one(objects, "kurator-member1", "Ingress") == {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": "nginx",
            "namespace": "webapp",
            "labels": {"app": "backend"},
            "annotations": {
                "kurator.dev/rollout": "rollout-nginx-demo-0",
                "kubernetes.io/ingress.class": "nginx",
            },
        },
        "spec": {
            "rules": [
                {
                    "host": "app.example.com",
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {
                                    "service": {"name": "backend", "port": {"number": 9898}}
                                },
                            }
                        ]
                    },
                }
            ]
        },
    }
    canary = one(objects, "kurator-member1", "Canary")
    assert canary["spec"]["ingressRef"] == {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "name": "nginx",
    }
    assert canary["metadata"]["annotations"] == {"kurator.dev/rollout": "rollout-nginx-demo-0"}
    assert "gateways" not in canary["spec"]["service"]


def test_nginx_ab_and_blue_green_examples() -> None:
    """examples/rollout/ab-testingNginx.yaml and blue_greenNginx.yaml."""
    objects, _ = compile_rollout(example("ab-testingNginx.yaml"))
    analysis = one(objects, "kurator-member2", "Canary")["spec"]["analysis"]
    assert analysis["match"] == [
        {"headers": {"x-canary": {"exact": "insider"}}},
        {"headers": {"cookie": {"exact": "canary"}}},
    ]
    objects, _ = compile_rollout(example("blue_greenNginx.yaml"))
    assert "match" not in one(objects, "kurator-member2", "Canary")["spec"]["analysis"]


def test_custom_metric_example() -> None:
    """examples/rollout/canaryWithCustomMetric.yaml, renamed to a name the API server takes."""
    text = (ROLLOUT / "canaryWithCustomMetric.yaml").read_text()
    text = text.replace("name: CustomMetric-demo", "name: custom-metric-demo")
    objects, diagnostics = compile_rollout(inputs(load_text(text), [quickstart()], backend()))
    assert diagnostics == []
    metrics = one(objects, "kurator-member1", "Canary")["spec"]["analysis"]["metrics"]
    assert metrics[1] == {
        "name": "istio-request-success-rate",
        "interval": "90s",
        "thresholdRange": {"max": 99},
        "templateRef": {"name": "istio-request-success-rate", "namespace": "webapp"},
    }
    assert one(objects, "kurator-member2", "MetricTemplate")["metadata"]["annotations"] == {
        "kurator.dev/rollout": "custom-metric-demo-0"
    }


def test_shared_ingress_for_two_rollouts_in_one_namespace() -> None:
    """`renderNginxIngress`: canaries of one namespace share the `nginx` Ingress, one rule
    each; the `app` label lists their services."""
    first = (ROLLOUT / "canaryNginx.yaml").read_text()
    second = (
        first.replace("rollout-nginx-demo", "frontend-demo")
        .replace("name: backend", "name: frontend")
        .replace("serviceName: backend", "serviceName: frontend")
        .replace("app.example.com", "front.example.com")
    )
    frontend = load_text(BACKEND_SERVICE.replace("backend", "frontend"), "frontend.yaml")
    objects, diagnostics = compile_rollout(
        inputs(
            load_text(first) + load_text(second, "second.yaml"),
            [quickstart()],
            backend() + frontend,
        )
    )
    assert diagnostics == []
    ingress = one(objects, "kurator-member1", "Ingress")
    assert ingress["metadata"]["labels"] == {"app": "backend,frontend"}
    assert ingress["metadata"]["annotations"]["kurator.dev/rollout"] == "frontend-demo-0"
    assert [r["host"] for r in ingress["spec"]["rules"]] == ["app.example.com", "front.example.com"]
    assert len(in_cluster(objects, "kurator-member1", "Canary")) == 2


def test_existing_namespace_gets_the_mark() -> None:
    """`enableSidecarInjection` on an existing namespace adds only the injection label."""
    namespace = load_text(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: webapp\n  labels: {team: web}\n",
        "ns.yaml",
    )
    objects, diagnostics = compile_rollout(example("canary.yaml", backend() + namespace))
    assert diagnostics == []
    assert one(objects, "kurator-member1", "Namespace")["metadata"] == {
        "name": "webapp",
        "labels": {"team": "web", "istio-injection": "enabled"},
    }


def test_rollout_follows_cluster_selector() -> None:
    """`fetchRolloutClusters`: the rollout goes where the policy's members are."""
    text = (
        (ROLLOUT / "canary.yaml")
        .read_text()
        .replace(
            "fleet: quickstart\n      kustomization:\n        interval: 0s",
            "fleet: quickstart\n        clusterSelector: {matchLabels: {env: test}}\n"
            "      kustomization:\n        interval: 0s",
        )
    )
    fleet = quickstart({"kurator-member1": {"env": "dev"}, "kurator-member2": {"env": "test"}})
    objects, _ = compile_rollout(inputs(load_text(text), [fleet], backend()))
    assert {o.cluster for o in objects} == {"kurator-member2"}


def test_rollout_without_fleet_goes_to_kurators_cluster() -> None:
    """`fetchRolloutClusters` without a fleet: the current cluster, named `host`."""
    text = (ROLLOUT / "canary.yaml").read_text()
    text = text.replace(
        "    - destination:\n        fleet: quickstart\n      kustomization:",
        "    - kustomization:",
    )
    text = text.replace("testLoader: true", "testLoader: false")
    objects, diagnostics = compile_rollout(inputs(load_text(text), [], backend()))
    assert diagnostics == []
    assert {o.cluster for o in objects} == {HOST}
    webhook = one(objects, HOST, "Canary")["spec"]["analysis"]["webhooks"][0]
    assert webhook["url"] == "http://istio-system-testloader-host-loadtester.istio-system/"


def test_documented_defaults_where_kurator_would_panic() -> None:
    """`renderCanaryAnalysis` dereferences metric.intervalSeconds and webhooks.timeoutSeconds;
    the API documents both as "Defaults to 60"."""
    text = (ROLLOUT / "canary.yaml").read_text()
    text = text.replace("               intervalSeconds: 90\n", "").replace(
        "                 timeoutSeconds: 60\n", ""
    )
    objects, _ = compile_rollout(inputs(load_text(text), [quickstart()], backend()))
    analysis = one(objects, "kurator-member1", "Canary")["spec"]["analysis"]
    assert [m["interval"] for m in analysis["metrics"]] == ["60s", "60s"]
    assert analysis["webhooks"][0]["timeout"] == "60s"


def test_optional_flags_and_no_webhooks() -> None:
    """`renderCanary` copies skipAnalysis/revertOnDeletion/suspend; no commands, no webhooks."""
    text = (ROLLOUT / "canary.yaml").read_text()
    flags = ("skipTrafficAnalysis", "revertOnDeletion", "suspend")
    text = text.replace(
        "          rolloutTimeoutSeconds: 600",
        "\n".join(f"          {flag}: true" for flag in flags),
    )
    text = re.sub(r" +webhooks:\n(?: {17}.*\n)+", "", text)
    objects, diagnostics = compile_rollout(inputs(load_text(text), [quickstart()], backend()))
    assert diagnostics == []
    spec = one(objects, "kurator-member1", "Canary")["spec"]
    assert (spec["skipAnalysis"], spec["revertOnDeletion"], spec["suspend"]) == (True, True, True)
    assert "progressDeadlineSeconds" not in spec
    assert "webhooks" not in spec["analysis"]


def test_non_rollout_policies_yield_nothing() -> None:
    objects, diagnostics = compile_rollout(
        inputs(load(EXAMPLES / "application" / "gitrepo-kustomization-demo.yaml"), [quickstart()])
    )
    assert (objects, diagnostics) == ([], [])


# ---- errors --------------------------------------------------------------------------------

POLICY = "/spec/syncPolicies/0/rollout"


def broken(
    old: str, new: str, name: str = "canary.yaml"
) -> tuple[list[Generated], list[Diagnostic]]:
    text = (ROLLOUT / name).read_text()
    assert old in text
    return compile_rollout(inputs(load_text(text.replace(old, new, 1)), [quickstart()], backend()))


def test_missing_service_is_an_error() -> None:
    """`syncRolloutPolicyForCluster` reads the workload's Service; without it, no canary."""
    objects, diagnostics = compile_rollout(example("canary.yaml", resources=[]))
    assert objects == []
    ((pointer, message),) = errors_of(diagnostics)
    assert pointer == f"{POLICY}/serviceName"
    assert message.startswith("Service webapp/backend is not among the inputs")
    assert diagnostics[0].location is not None
    assert diagnostics[0].location.line == 31


def test_service_in_another_namespace_is_not_it() -> None:
    other = load_text(BACKEND_SERVICE.replace("namespace: webapp", "namespace: other"), "s.yaml")
    _, diagnostics = compile_rollout(example("canary.yaml", resources=other))
    assert [p for p, _ in errors_of(diagnostics)] == [f"{POLICY}/serviceName"]


def test_nginx_needs_a_host() -> None:
    """application_webhook.go `defaultSyncPolicies`: nginx without trafficRouting.host."""
    objects, diagnostics = broken('            host: "app.example.com"\n', "", "canaryNginx.yaml")
    assert objects == []
    ((pointer, message),) = errors_of(diagnostics)
    assert pointer == f"{POLICY}/rolloutPolicy/trafficRouting"
    assert message.startswith("the nginx provider needs rolloutPolicy.trafficRouting.host")


@pytest.mark.parametrize(
    ("old", "new", "pointer", "message"),
    [
        ("trafficRoutingProvider: istio", "trafficRoutingProvider: linkerd",
         f"{POLICY}/trafficRoutingProvider", "trafficRoutingProvider must be one of"),
        ("          namespace: webapp\n", "", f"{POLICY}/workload",
         "spec.syncPolicies.0.rollout.workload.namespace is required"),
        ("          name: backend\n", "", f"{POLICY}/workload",
         "spec.syncPolicies.0.rollout.workload.name is required"),
        ("        serviceName: backend\n", "", POLICY,
         "spec.syncPolicies.0.rollout.serviceName is required"),
        ("port: 9898", "port: http", f"{POLICY}/port",
         "spec.syncPolicies.0.rollout.port must be an integer"),
        ("testLoader: true", "testLoader: yes please", f"{POLICY}/testLoader",
         "testLoader must be true or false"),
        ("checkIntervalSeconds: 90", "checkIntervals: 90",
         f"{POLICY}/rolloutPolicy/trafficAnalysis/checkIntervalSeconds",
         "spec.syncPolicies.0.rollout.rolloutPolicy.trafficAnalysis.checkIntervalSeconds is "
         "required"),
        ("checkFailedTimes: 2", "checkFailedTimes: two",
         f"{POLICY}/rolloutPolicy/trafficAnalysis/checkFailedTimes",
         "spec.syncPolicies.0.rollout.rolloutPolicy.trafficAnalysis.checkFailedTimes must be"),
        ("- name: request-duration", "- nam: request-duration",
         f"{POLICY}/rolloutPolicy/trafficAnalysis/metrics/1", "a metric needs a name"),
        ("          trafficAnalysis:", "          notAnalysis:", f"{POLICY}/rolloutPolicy",
         "spec.syncPolicies.0.rollout.rolloutPolicy.trafficAnalysis is required"),
        ("        rolloutPolicy:", "        policy:", POLICY,
         "spec.syncPolicies.0.rollout.rolloutPolicy is required"),
        ("      rollout:\n        testLoader: true\n", "      rollout: on\n      unused:\n",
         POLICY, "spec.syncPolicies.0.rollout must be a mapping"),
    ],
)  # fmt: skip
def test_rollout_field_errors(old: str, new: str, pointer: str, message: str) -> None:
    objects, diagnostics = broken(old, new)
    assert objects == []
    assert errors_of(diagnostics)[0][0] == pointer
    assert errors_of(diagnostics)[0][1].startswith(message)


def test_namespace_mark_conflict() -> None:
    """`addLabels` refuses a conflicting injection label on an existing namespace."""
    namespace = load_text(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: webapp\n"
        "  labels: {istio-injection: disabled}\n",
        "ns.yaml",
    )
    _, diagnostics = compile_rollout(example("canary.yaml", backend() + namespace))
    assert [p for p, _ in errors_of(diagnostics)] == [f"{POLICY}/trafficRoutingProvider"]


def test_conflicting_metric_templates() -> None:
    """Two rollouts in one namespace defining one custom metric differently."""
    first = (ROLLOUT / "canaryKuma.yaml").read_text()
    second = (
        first.replace("rollout-kuma-demo", "other-demo")
        .replace("name: backend\n", "name: other\n")
        .replace("prometheus-server.mesh-observability:80", "prometheus.elsewhere:9090")
    )
    objects, diagnostics = compile_rollout(
        inputs(load_text(first) + load_text(second, "second.yaml"), [quickstart()], backend())
    )
    assert {m for _, m in errors_of(diagnostics)} == {
        "MetricTemplate webapp/kuma-request-success-rate is written twice with different "
        "contents (also from app.yaml); give each rollout its own workload and custom metric "
        "names per namespace"
    }
    assert len(in_cluster(objects, "kurator-member1", "MetricTemplate")) == 1


def test_warnings_for_ignored_fields_and_missing_port() -> None:
    """`rollout.primary`/`preview` are never applied by Kurator; a Service without the port
    leaves the canary's targetPort to Flagger's default (the port)."""
    text = (ROLLOUT / "canary.yaml").read_text()
    text = text.replace(
        "        port: 9898\n", "        port: 9898\n        primary: {labels: {a: b}}\n"
    )
    other_port = load_text(BACKEND_SERVICE.replace("port: 9898", "port: 80"), "svc.yaml")
    objects, diagnostics = compile_rollout(inputs(load_text(text), [quickstart()], other_port))
    assert warnings_of(diagnostics) == [f"{POLICY}/primary", "/spec/ports"]
    assert "targetPort" not in one(objects, "kurator-member1", "Canary")["spec"]["service"]


def test_destination_errors_are_left_to_the_application() -> None:
    """compile_application reports fleet errors; the rollout does not repeat them."""
    objects, diagnostics = compile_rollout(inputs(load(ROLLOUT / "canary.yaml"), [], backend()))
    assert (objects, diagnostics) == ([], [])


def test_fleet_of_helper_keeps_fleet_order() -> None:
    fleet = quickstart()
    assert [m.name for m in fleet.members] == list(MEMBERS)
    assert fleet_of(fleet.document, reversed(fleet.members)).members == fleet.members  # type: ignore[arg-type]
