"""The Kubernetes manifests: every overlay renders, every object passes the API's schema
(strict), and the objects agree with each other and with the services they run."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests import monitoring
from tests.conftest import ROOT

OVERLAYS = ("local", "eks")
TRAINING = ("training/single-gpu", "training/multi-node")
SERVICES = ("gateway", "preprocessor", "inference")
# Custom resources the API server's schemas do not cover: checked here by hand instead.
CUSTOM_KINDS = {
    ("external-secrets.io/v1", "ExternalSecret"),
    ("external-secrets.io/v1", "SecretStore"),
    ("keda.sh/v1alpha1", "ScaledObject"),
    ("keda.sh/v1alpha1", "TriggerAuthentication"),
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
}
SERVICE_GRACE_S = 20  # ServiceSettings.shutdown_grace_s


def _tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is missing on this CI machine")
        pytest.skip(f"{name} is not installed")
    return found


def _folder(name: str) -> str:
    """A serving overlay by its name, anything else by its path under k8s/."""
    return f"overlays/{name}" if name in OVERLAYS else name


@cache
def _rendered(overlay: str) -> str:
    return subprocess.run(
        [_tool("kubectl"), "kustomize", str(ROOT / "k8s" / _folder(overlay))],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def _objects(overlay: str) -> list[dict[str, Any]]:
    return [o for o in yaml.safe_load_all(_rendered(overlay)) if o]


def _of_kind(overlay: str, kind: str) -> Iterator[dict[str, Any]]:
    return (o for o in _objects(overlay) if o["kind"] == kind)


def _named(overlay: str, kind: str, name: str) -> dict[str, Any]:
    return next(o for o in _of_kind(overlay, kind) if o["metadata"]["name"] == name)


@pytest.mark.parametrize("overlay", OVERLAYS + TRAINING)
def test_every_object_passes_the_kubernetes_schema_strictly(overlay: str, tmp_path: Path) -> None:
    rendered = tmp_path / f"{overlay.replace('/', '-')}.yaml"
    rendered.write_text(_rendered(overlay))
    checked = subprocess.run(
        [_tool("kubernetes-validate"), "--strict", str(rendered)],
        capture_output=True,
        text=True,
    )
    output = checked.stdout + checked.stderr
    assert checked.returncode == 0, output
    passed = output.count(" passed for resource ")
    custom = [o for o in _objects(overlay) if (o["apiVersion"], o["kind"]) in CUSTOM_KINDS]
    assert passed + len(custom) == len(_objects(overlay)), output
    for line in output.splitlines():
        if line.startswith("WARN"):
            assert "Couldn't find schema for kind" in line
            assert any(group in line for group in ("external-secrets.io", "keda.sh", "coreos.com"))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_service_is_probed_bounded_and_unprivileged(overlay: str) -> None:
    for service in SERVICES:
        pod = _named(overlay, "Deployment", service)["spec"]["template"]["spec"]
        assert pod["terminationGracePeriodSeconds"] > SERVICE_GRACE_S
        assert pod["securityContext"]["runAsNonRoot"] is True
        (container,) = pod["containers"]
        port = next(p["containerPort"] for p in container["ports"] if p["name"] == "grpc")
        # Readiness on the overall health status; liveness on the one that only says
        # the process answers (skinscan_kit.grpc_server.LIVENESS).
        assert container["readinessProbe"]["grpc"] == {"port": port}
        assert container["livenessProbe"]["grpc"] == {"port": port, "service": "skinscan.liveness"}
        assert container["resources"]["requests"]["cpu"]
        assert container["resources"]["limits"]["memory"]
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        host = next(e for e in container["env"] if e["name"] == f"SKINSCAN_{service.upper()}_HOST")
        assert host["value"] == "0.0.0.0"
        budgets = [
            b
            for b in _of_kind(overlay, "PodDisruptionBudget")
            if b["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/name": service}
        ]
        assert len(budgets) == 1


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_services_find_each_other_through_headless_services(overlay: str) -> None:
    (settings,) = [
        c["data"]
        for c in _of_kind(overlay, "ConfigMap")
        if c["metadata"]["name"].startswith("skinscan-settings")
    ]
    targets = {
        "preprocessor": settings["SKINSCAN_GATEWAY_PREPROCESSOR_TARGET"],
        "inference": settings["SKINSCAN_PREPROCESSOR_INFERENCE_TARGET"],
    }
    for service, target in targets.items():
        spec = _named(overlay, "Service", service)["spec"]
        assert spec["clusterIP"] == "None", "headless: the client balances over every replica"
        port = next(p["port"] for p in spec["ports"] if p["name"] == "grpc")
        assert target == f"dns:///{service}:{port}"
    for deployment in _of_kind(overlay, "Deployment"):
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    _named(overlay, "ConfigMap", source["configMapRef"]["name"])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_the_calls_the_architecture_makes_are_let_in(overlay: str) -> None:
    def callers(name: str) -> list[Any]:
        policy = _named(overlay, "NetworkPolicy", name)["spec"]["ingress"]
        grpc = [rule for rule in policy if {"port": "grpc"} in rule["ports"]]
        return [peer for rule in grpc for peer in rule.get("from", [{"anyone": True}])]

    only = lambda name: [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": name}}}]  # noqa: E731
    assert callers("inference") == only("preprocessor")
    assert callers("preprocessor") == only("gateway")
    assert callers("gateway") == [{"anyone": True}]  # the public front door
    deny = _named(overlay, "NetworkPolicy", "default-deny-ingress")["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress"]}


def test_eks_puts_inference_on_a_gpu_and_keeps_secrets_out_of_the_manifests() -> None:
    pod = _named("eks", "Deployment", "inference")["spec"]["template"]["spec"]
    assert pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod[
        "tolerations"
    ]
    assert pod["nodeSelector"] == {"eks.amazonaws.com/nodegroup": "gpu"}
    account = _named("eks", "ServiceAccount", "inference")["metadata"]["annotations"]
    assert account["eks.amazonaws.com/role-arn"].startswith("arn:aws:iam::")
    assert not list(_of_kind("eks", "Secret")), "secrets come from Secrets Manager, not files"
    # Every Secret a pod reads is made by an ExternalSecret from the overlay's store.
    made = {e["spec"]["target"]["name"]: e for e in _of_kind("eks", "ExternalSecret")}
    store = _named("eks", "SecretStore", "aws-secrets-manager")["spec"]["provider"]["aws"]
    assert store["service"] == "SecretsManager"
    _named("eks", "ServiceAccount", store["auth"]["jwt"]["serviceAccountRef"]["name"])
    read = {
        source["secretRef"]["name"]
        for d in _of_kind("eks", "Deployment")
        for c in d["spec"]["template"]["spec"]["containers"]
        for source in c.get("envFrom", [])
        if "secretRef" in source
    }
    assert read == set(made)
    for external in made.values():
        assert external["spec"]["secretStoreRef"] == {
            "kind": "SecretStore",
            "name": "aws-secrets-manager",
        }
    gateway_secrets = {d["secretKey"] for d in made["skinscan-gateway"]["spec"]["data"]}
    assert {
        "SKINSCAN_JWT_SECRET",
        "SKINSCAN_FIELD_KEYS",
        "SKINSCAN_DATABASE_URL",
    } <= gateway_secrets
    # The preprocessor gets Redis, not the gateway's keys.
    preprocessor = _named("eks", "Deployment", "preprocessor")["spec"]["template"]["spec"]
    assert {
        s.get("secretRef", {}).get("name") for s in preprocessor["containers"][0]["envFrom"]
    } >= {"skinscan-redis"}
    assert "skinscan-gateway" not in {
        s.get("secretRef", {}).get("name") for s in preprocessor["containers"][0]["envFrom"]
    }


def test_eks_serves_rest_and_grpc_over_tls_at_the_load_balancer() -> None:
    ingresses = {i["metadata"]["name"]: i for i in _of_kind("eks", "Ingress")}
    assert set(ingresses) == {"gateway-rest", "gateway-grpc"}
    for ingress in ingresses.values():
        notes = ingress["metadata"]["annotations"]
        assert ingress["spec"]["ingressClassName"] == "alb"
        assert notes["alb.ingress.kubernetes.io/listen-ports"] == '[{"HTTPS": 443}]'
        assert notes["alb.ingress.kubernetes.io/certificate-arn"].startswith("arn:aws:acm:")
        assert ingress["spec"]["tls"]
    grpc = ingresses["gateway-grpc"]["metadata"]["annotations"]
    assert grpc["alb.ingress.kubernetes.io/backend-protocol-version"] == "GRPC"


def test_eks_scales_with_keda_and_local_with_plain_autoscalers() -> None:
    scaled = {o["spec"]["scaleTargetRef"]["name"]: o for o in _of_kind("eks", "ScaledObject")}
    assert set(scaled) == set(SERVICES)
    assert not list(_of_kind("eks", "HorizontalPodAutoscaler")), "never KEDA and an HPA on one"
    local = {
        h["spec"]["scaleTargetRef"]["name"] for h in _of_kind("local", "HorizontalPodAutoscaler")
    }
    assert local == {"preprocessor", "inference"}
    assert not list(_of_kind("local", "ScaledObject"))
    for deployment in scaled:  # KEDA's cpu trigger and the HPA need requests
        container = _named("eks", "Deployment", deployment)["spec"]["template"]["spec"]
        assert container["containers"][0]["resources"]["requests"]["cpu"]


def test_the_scalers_read_what_skinscan_really_writes() -> None:
    from skinscan_kit.job_queue import GROUP, STREAM

    triggers = {
        o["spec"]["scaleTargetRef"]["name"]: o["spec"]["triggers"]
        for o in _of_kind("eks", "ScaledObject")
    }
    (streams,) = [t for t in triggers["preprocessor"] if t["type"] == "redis-streams"]
    assert streams["metadata"]["stream"] == STREAM
    assert streams["metadata"]["consumerGroup"] == GROUP
    # The trigger's credentials come from keys the ExternalSecret really makes.
    auth = _named("eks", "TriggerAuthentication", streams["authenticationRef"]["name"])
    made = {
        (e["spec"]["target"]["name"], d["secretKey"])
        for e in _of_kind("eks", "ExternalSecret")
        for d in e["spec"]["data"]
    }
    for reference in auth["spec"]["secretTargetRef"]:
        assert (reference["name"], reference["key"]) in made
    queries = [t["metadata"]["query"] for t in triggers["inference"] if t["type"] == "prometheus"]
    assert queries
    for query in queries:
        _assert_declared(query)


def _assert_declared(expression: str) -> None:
    """Every skinscan metric `expression` reads is one the services declare (a histogram's
    _bucket, _count and _sum, a counter's _total)."""
    from prometheus_client import REGISTRY

    import gateway.metrics  # noqa: F401  (each declares its service's metrics)
    import inference.metrics  # noqa: F401
    import preprocessor.metrics  # noqa: F401
    import skinscan_pipeline.metrics  # noqa: F401  (decode and inference-call times)

    families = {family.name for family in REGISTRY.collect()}
    suffixes = ("", "_total", "_bucket", "_count", "_sum")
    used = re.findall(r"skinscan_[a-z_]+", expression)
    assert used, expression
    for name in used:
        assert any(name == family + end for family in families for end in suffixes), (
            f"{name} in {expression!r} is declared by no service"
        )


def test_prometheus_scrapes_every_service_and_alerts_on_metrics_that_exist() -> None:
    monitors = {m["metadata"]["name"]: m for m in _of_kind("eks", "ServiceMonitor")}
    assert set(monitors) == set(SERVICES)
    for name, monitor in monitors.items():
        service = _named("eks", "Service", name)
        labels = service["metadata"]["labels"]
        assert monitor["spec"]["selector"]["matchLabels"].items() <= labels.items()
        ports = {p["name"] for p in service["spec"]["ports"]}
        assert {e["port"] for e in monitor["spec"]["endpoints"]} <= ports
    (rules,) = _of_kind("eks", "PrometheusRule")
    alerts = [r for group in rules["spec"]["groups"] for r in group["rules"]]
    names = {a["alert"] for a in alerts}
    assert {
        "SkinscanAnalysisLatencyHigh",
        "SkinscanErrorRateHigh",
        "SkinscanNoModelLoaded",
        "SkinscanClinicSensitivityBelowTarget",
    } <= names


def test_every_query_of_the_alerts_scalers_and_dashboard_reads_declared_metrics() -> None:
    for query in monitoring.queries():
        if "DCGM_" in query.expr and "skinscan_" not in query.expr:
            continue  # NVIDIA's dcgm-exporter, not a skinscan service
        _assert_declared(query.expr)


def test_grafana_loads_a_dashboard_of_what_an_sre_watches() -> None:
    (config_map,) = [
        c
        for c in _of_kind("eks", "ConfigMap")
        if c["metadata"].get("labels", {}).get("grafana_dashboard") == "1"
    ]
    (document,) = config_map["data"].values()
    board = json.loads(document)
    assert board == monitoring.dashboard()
    panels = [p for p in board["panels"] if p["type"] != "row"]
    assert len({p["id"] for p in board["panels"]}) == len(board["panels"])
    for panel in panels:
        assert panel["targets"] and panel["datasource"]["uid"] == "${datasource}"
        box = panel["gridPos"]
        assert box["x"] + box["w"] <= 24
    read = " ".join(t["expr"] for p in panels for t in p["targets"])
    # The list: request rate, latency percentiles per service, queue vs compute
    # time, batch sizes, job queue depth and age, errors by status, GPU utilisation.
    for needed in (
        "skinscan_gateway_rpc_seconds_count",
        "skinscan_gateway_http_request_seconds_count",
        "skinscan_preprocessor_rpc_seconds_bucket",
        "skinscan_inference_rpc_seconds_bucket",
        "skinscan_inference_queue_seconds_bucket",
        "skinscan_inference_compute_seconds_bucket",
        "skinscan_inference_batch_size",
        "skinscan_job_queue_depth",
        "skinscan_preprocessor_job_wait_seconds_bucket",
        "sum by (code)",
        "DCGM_FI_DEV_GPU_UTIL",
        # Issue 40: each clinic's gate refusals (drift) and audit sensitivity.
        "skinscan_gateway_clinic_results_total",
        "skinscan_gateway_clinic_audit_sensitivity_upper",
    ):
        assert needed in read, needed


def _trainer_command(job: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The trainer container, and the `skinscan train` arguments it runs."""
    (container,) = job["spec"]["template"]["spec"]["containers"]
    arguments = container["args"]
    if container.get("command") == ["torchrun"]:
        module = arguments.index("-m")
        assert arguments[module + 1 : module + 3] == ["skinscan_cli", "train"]
        return container, arguments[module + 3 :]
    assert "command" not in container  # the image's entrypoint: skinscan train
    return container, arguments


@pytest.mark.parametrize("training", TRAINING)
def test_training_jobs_run_skinscan_train_on_a_gpu_from_s3_to_s3(training: str) -> None:
    from skinscan_cli.main import build_parser
    from trainer.options import config_from_arguments

    (job,) = _of_kind(training, "Job")
    pod = job["spec"]["template"]["spec"]
    container, arguments = _trainer_command(job)
    assert container["image"].endswith("/skinscan-trainer:0.1.0")
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert pod["nodeSelector"] == {"eks.amazonaws.com/nodegroup": "gpu"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod[
        "tolerations"
    ]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    account = _named(training, "ServiceAccount", pod["serviceAccountName"])
    assert "eks.amazonaws.com/role-arn" in account["metadata"]["annotations"]
    # The arguments are ones `skinscan train` takes: S3 in, S3 out, checkpoints on a volume
    # that outlives the pod (a new pod resumes the run).
    args = build_parser().parse_args(["train", *arguments])
    assert args.data and all(d.startswith("s3://") for d in args.data)
    assert args.out.startswith("s3://")
    config = config_from_arguments(args, Path)
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    (mount,) = [
        m for m in mounts if config.checkpoint_dir and config.checkpoint_dir.is_relative_to(m)
    ]
    claim = volumes[mounts[mount]]["persistentVolumeClaim"]["claimName"]
    _named(training, "PersistentVolumeClaim", claim)
    assert any(config.data_cache.is_relative_to(m) for m in mounts)


def test_the_multi_node_job_is_one_torchrun_rendezvous() -> None:
    (job,) = _of_kind("training/multi-node", "Job")
    spec = job["spec"]
    container, _ = _trainer_command(job)
    flags = dict(a.split("=", 1) for a in container["args"] if a.startswith("--") and "=" in a)
    assert spec["completionMode"] == "Indexed"
    assert spec["completions"] == spec["parallelism"] == int(flags["--nnodes"])
    assert flags["--node-rank"] == "$(NODE_RANK)"
    (rank,) = [e for e in container["env"] if e["name"] == "NODE_RANK"]
    assert "job-completion-index" in rank["valueFrom"]["fieldRef"]["fieldPath"]
    # Pod 0, by the name the headless Service gives it, hosts the rendezvous.
    subdomain = spec["template"]["spec"]["subdomain"]
    service = _named("training/multi-node", "Service", subdomain)["spec"]
    assert service["clusterIP"] == "None"
    assert service["selector"] == {"batch.kubernetes.io/job-name": job["metadata"]["name"]}
    assert flags["--master-addr"] == f"{job['metadata']['name']}-0.{subdomain}"
    assert int(flags["--master-port"]) == service["ports"][0]["port"]
    # The namespace's default-deny lets the training pods reach each other.
    (policy,) = _of_kind("training/multi-node", "NetworkPolicy")
    labels = spec["template"]["metadata"]["labels"]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
    (rule,) = policy["spec"]["ingress"]
    assert rule["from"][0]["podSelector"]["matchLabels"].items() <= labels.items()
    claim = _of_kind("training/multi-node", "PersistentVolumeClaim")
    assert next(claim)["spec"]["accessModes"] == ["ReadWriteMany"]
