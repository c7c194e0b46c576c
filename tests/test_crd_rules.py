"""Custom resources are judged by the API server's structural-schema rules: which nulls it drops
(and so the emitted files leave out), which it keeps and refuses, numbers as JSON carries them,
and ObjectMeta's own rules. Real samples (tests/crd_rules/, see its README) against the shipped
CRD schemas, one field changed per test."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from kurator_compile.outputcheck import SchemaStore, validate_object
from kurator_compile.yamldoc import load_stream

from .conftest import FLEET_HEADER, REPO, run_cli

SAMPLES = REPO / "tests" / "crd_rules"
JOB = (SAMPLES / "volcano-job.yaml").read_text("utf-8")
GIT_REPOSITORY = (SAMPLES / "flux-gitrepository.yaml").read_text("utf-8")
SCHEDULE = (SAMPLES / "velero-schedule.yaml").read_text("utf-8")
NODE_SELECTOR = "          restartPolicy: OnFailure\n"


@pytest.fixture(scope="module")
def store() -> SchemaStore:
    return SchemaStore()


def found(store: SchemaStore, text: str, file: str = "apps/job.yaml") -> list[str]:
    (doc,) = load_stream(text, file)
    return [d.render() for d in validate_object(store, doc.data, "1.30", "c1", doc.locate)]


def test_the_samples_are_valid(store: SchemaStore) -> None:
    for text in (JOB, GIT_REPOSITORY, SCHEDULE):
        assert found(store, text) == []


def test_a_null_the_api_server_drops_is_no_error(store: SchemaStore) -> None:
    """`nodeSelector:` left empty: not nullable, so the API server drops it (prunenulls.go)."""
    text = JOB.replace(NODE_SELECTOR, NODE_SELECTOR + "          nodeSelector:\n")
    assert found(store, text) == []


def test_a_null_with_a_default_is_no_error(store: SchemaStore) -> None:
    """`maxRetry: null`: the API server drops it, then writes the schema's default, 3."""
    assert found(store, JOB.replace("maxRetry: 5", "maxRetry: null")) == []


def test_dropped_nulls_are_left_out_of_the_emitted_files(
    make_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    policy = (
        "---\napiVersion: policy.karmada.io/v1alpha1\nkind: ClusterPropagationPolicy\n"
        "metadata: {name: jobs}\nspec:\n"
        "  resourceSelectors: [{apiVersion: batch.volcano.sh/v1alpha1, kind: Job}]\n"
    )
    job = JOB.replace("  name: test-job\n", "  name: test-job\n  namespace: ml\n")
    job = job.replace("maxRetry: 5", "maxRetry: null")
    job = job.replace(NODE_SELECTOR, NODE_SELECTOR + "          nodeSelector: null\n")
    fleet = make_fleet(policy, apps={"job.yaml": job}, header=FLEET_HEADER)
    out = tmp_path / "out"
    result = run_cli("build", fleet, "-o", out, "--lock", tmp_path / "lock.yaml")
    assert result.exit_code == 0, result.stderr
    emitted = yaml.safe_load(
        (out / "clusters/alpha/job.batch.volcano.sh_ml_test-job.yaml").read_text()
    )
    assert "maxRetry" not in emitted["spec"]
    assert "nodeSelector" not in emitted["spec"]["tasks"][0]["template"]["spec"]
    assert emitted["spec"]["tasks"][0]["template"]["spec"]["restartPolicy"] == "OnFailure"
    unchecked = tmp_path / "unchecked"
    result = run_cli(
        "build", fleet, "-o", unchecked, "--lock", tmp_path / "lock.yaml", "--no-validate"
    )
    assert result.exit_code == 0, result.stderr
    name = "clusters/alpha/job.batch.volcano.sh_ml_test-job.yaml"
    assert (unchecked / name).read_text() == (out / name).read_text()  # whether validated or not


def test_a_required_field_written_null_is_missing(store: SchemaStore) -> None:
    text = GIT_REPOSITORY.replace("  url: https://github.com/stefanprodan/podinfo", "  url: null")
    assert found(store, text, "apps/git.yaml") == [
        "apps/git.yaml:9:3: error: cluster c1: GitRepository.source.toolkit.fluxcd.io/default/"
        "podinfo: spec.url: null is dropped by the API server (the field is not nullable), and "
        "the field is required (at /spec/url)"
    ]


def test_an_empty_velero_schedule_is_missing(store: SchemaStore) -> None:
    text = SCHEDULE.replace("  schedule: 0 7 * * *", "  schedule:")
    assert found(store, text, "apps/schedule.yaml") == [
        "apps/schedule.yaml:7:3: error: cluster c1: Schedule.velero.io/velero/a: spec.schedule: "
        "null is dropped by the API server (the field is not nullable), and the field is "
        "required (at /spec/schedule)"
    ]


def test_a_nullable_null_is_kept(store: SchemaStore) -> None:
    """`includeClusterResources: null` is Velero's documented "unset"; the schema says
    `nullable: true`, so the API server keeps it, and so does the output."""
    (doc,) = load_stream(SCHEDULE, "apps/schedule.yaml")
    schema = store.crd("velero.io/v1", "Schedule")
    assert schema is not None
    assert schema.prune is not None
    assert schema.prune(doc.data) is doc.data
    assert doc.data["spec"]["template"]["includeClusterResources"] is None


def test_a_null_list_item_is_an_error(store: SchemaStore) -> None:
    """The API server drops nulls of map entries only; a null item stays, and is no string."""
    text = SCHEDULE.replace("    - some-namespace\n", "    - some-namespace\n    - null\n")
    assert found(store, text, "apps/schedule.yaml") == [
        "apps/schedule.yaml:15:7: error: cluster c1: Schedule.velero.io/velero/a: "
        "spec.template.excludedNamespaces[1]: null is not of type 'string' "
        "(at /spec/template/excludedNamespaces/1)"
    ]


def test_a_null_where_the_schema_allows_none_is_an_error(store: SchemaStore) -> None:
    text = JOB.replace("  tasks:\n", "  tasks:\n    - null\n")
    assert found(store, text) == [
        "apps/job.yaml:29:7: error: cluster c1: Job.batch.volcano.sh/default/test-job: "
        "spec.tasks[0]: null is not of type 'object' (at /spec/tasks/0)"
    ]


def test_a_whole_float_in_an_integer_field_is_an_integer(store: SchemaStore) -> None:
    """kubectl sends `replicas: 6.0` as the JSON number 6, an integer to the API server."""
    text = JOB.replace("replicas: 6", "replicas: 6.0")
    (doc,) = load_stream(text, "apps/job.yaml")
    assert type(doc.data["spec"]["tasks"][0]["replicas"]) is int
    assert found(store, text) == []


def test_a_fraction_in_an_integer_field_is_an_error(store: SchemaStore) -> None:
    assert found(store, JOB.replace("replicas: 6", "replicas: 6.5")) == [
        "apps/job.yaml:29:7: error: cluster c1: Job.batch.volcano.sh/default/test-job: "
        "spec.tasks[0].replicas: 6.5 is not of type 'integer' (at /spec/tasks/0/replicas)"
    ]


def test_int_or_string_refuses_a_fraction(store: SchemaStore) -> None:
    """A quantity field (`x-kubernetes-int-or-string`) takes 1 or "0.5", not the number 0.5."""
    assert found(store, JOB.replace('cpu: "1"', "cpu: 1")) == []
    assert found(store, JOB.replace('cpu: "1"', "cpu: 0.5")) == [
        "apps/job.yaml:41:19: error: cluster c1: Job.batch.volcano.sh/default/test-job: "
        "spec.tasks[0].template.spec.containers[0].resources.requests.cpu: 0.5 is not of type "
        "'integer' or 'string' "
        "(at /spec/tasks/0/template/spec/containers/0/resources/requests/cpu)"
    ]


def test_a_label_key_the_api_server_refuses(store: SchemaStore) -> None:
    text = JOB.replace("  name: test-job\n", "  name: test-job\n  labels: {team name: ml}\n")
    assert found(store, text) == [
        "apps/job.yaml:5:12: error: cluster c1: Job.batch.volcano.sh/default/test-job: "
        'metadata.labels: Invalid value: "team name": name part must consist of alphanumeric '
        "characters, '-', '_' or '.', and must start and end with an alphanumeric character "
        "(e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
        "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') (at /metadata/labels/team name)"
    ]


def test_a_label_value_the_api_server_refuses(store: SchemaStore) -> None:
    text = JOB.replace("  name: test-job\n", "  name: test-job\n  labels: {team: -ml}\n")
    assert found(store, text) == [
        "apps/job.yaml:5:12: error: cluster c1: Job.batch.volcano.sh/default/test-job: "
        'metadata.labels: Invalid value: "-ml": a valid label must be an empty string or '
        "consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
        "alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for "
        "validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?') (at /metadata/labels/team)"
    ]


def test_an_annotation_key_the_api_server_refuses(store: SchemaStore) -> None:
    """Keys are checked lowercased, so `Example.com/Owner` passes."""
    text = JOB.replace(
        "  name: test-job\n",
        "  name: test-job\n  annotations: {Example.com/Owner: ml, a/b/c: x}\n",
    )
    assert found(store, text) == [
        "apps/job.yaml:5:40: error: cluster c1: Job.batch.volcano.sh/default/test-job: "
        'metadata.annotations: Invalid value: "a/b/c": a qualified name must consist of '
        "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
        "character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
        "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and "
        "'/' (e.g. 'example.com/MyName') (at /metadata/annotations/a~1b~1c)"
    ]


def test_annotations_over_256_kib_are_refused(store: SchemaStore) -> None:
    big = "x" * (256 * 1024)
    text = JOB.replace("  name: test-job\n", f"  name: test-job\n  annotations: {{a: {big}}}\n")
    assert found(store, text) == [
        "apps/job.yaml:5:3: error: cluster c1: Job.batch.volcano.sh/default/test-job: "
        "metadata.annotations: Too long: must have at most 262144 bytes (at /metadata/annotations)"
    ]


def test_a_generate_name_must_be_a_subdomain_prefix(store: SchemaStore) -> None:
    assert found(store, JOB.replace("  name: test-job\n", "  generateName: test-\n")) == []
    assert found(store, JOB.replace("  name: test-job\n", "  generateName: Test-\n")) == [
        "apps/job.yaml:4:3: error: cluster c1: Job.batch.volcano.sh/default/: "
        'metadata.generateName: Invalid value: "Test-": a lowercase RFC 1123 subdomain must '
        "consist of lower case alphanumeric characters, '-' or '.', and must start and end with "
        "an alphanumeric character (e.g. 'example.com', regex used for validation is "
        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*') "
        "(at /metadata/generateName)"
    ]


WIDGET_CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            metadata:
              type: object
              properties:
                name: {type: string, maxLength: 8}
                labels: {type: object, maxProperties: 0}
            spec:
              type: object
              properties:
                size: {type: integer}
"""


def test_only_name_constraints_of_the_metadata_schema_count() -> None:
    """The API server applies `metadata.name` and `metadata.generateName` of a CRD's schema and
    nothing else of it (ObjectMeta has its own rules): the labels limit here is ignored."""
    store = SchemaStore()
    (crd,) = load_stream(WIDGET_CRD, "crds/widget.yaml")
    body = crd.data["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    store.add_crd("example.com", "v1", "Widget", body, "crds/widget.yaml")
    widget = (
        "apiVersion: example.com/v1\nkind: Widget\n"
        "metadata: {name: %s, namespace: shop, labels: {a: b}}\nspec: {size: 1}\n"
    )
    assert found(store, widget % "small", "apps/widget.yaml") == []
    assert found(store, widget % "much-too-long", "apps/widget.yaml") == [
        "apps/widget.yaml:3:12: error: cluster c1: Widget.example.com/shop/much-too-long: "
        "metadata.name: 'much-too-long' is too long (at /metadata/name)"
    ]
