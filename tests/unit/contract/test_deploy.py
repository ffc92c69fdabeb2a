"""Deployment files parse, agree with the settings and the contract, alert on real metrics.

No Docker engine or cluster is needed: these are static checks.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from impulse_stream.contract import topics
from impulse_stream.settings import Settings

from .conftest import ROOT

# The metrics the runtime exports (src/impulse_stream/streaming/metrics.py owns them).
METRICS = frozenset(
    {
        "impulse_stream_events_in_total",
        "impulse_stream_impulses_total",
        "impulse_stream_opportunities_total",
        "impulse_stream_opportunities_closed_total",
        "impulse_stream_policy_suppressions_total",
        "impulse_stream_dead_letters_total",
        "impulse_stream_processing_latency_seconds",
        "impulse_stream_consumer_lag",
        "impulse_stream_redis_roundtrip_seconds",
        "impulse_stream_batch_size",
        "impulse_stream_partitions_assigned",
        "impulse_stream_last_progress_timestamp_seconds",
        "impulse_stream_publish_errors_total",
        "impulse_stream_partition_blocked",
    }
)
HISTOGRAMS = {
    "impulse_stream_processing_latency_seconds",
    "impulse_stream_redis_roundtrip_seconds",
    "impulse_stream_batch_size",
}
PROMETHEUS_SERIES = {"up"}
PROMQL_WORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring"}
WEB_PORT = 6066
K8S = ROOT / "deploy" / "k8s"


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def k8s_objects() -> dict[str, dict[str, Any]]:
    objects: dict[str, dict[str, Any]] = {}
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            objects[doc["kind"]] = doc
    return objects


def settings_env_names() -> set[str]:
    return set(Settings.variables())


def metric_names(expr: str) -> set[str]:
    """Series names in a PromQL expression (labels, functions and keywords removed)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # ranges
    text = re.sub(
        r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text
    )  # grouping labels
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        word = match.group()
        followed_by_call = text[match.end() :].lstrip().startswith("(")
        if not followed_by_call and word not in PROMQL_WORDS and not re.fullmatch(r"\d+\w*", word):
            names.add(word)
    return names


def base_metric(name: str) -> str:
    for suffix in ("_bucket", "_count", "_sum"):
        if name.endswith(suffix) and name[: -len(suffix)] in HISTOGRAMS:
            return name[: -len(suffix)]
    return name


# --- docker-compose.yml ----------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = load(ROOT / "docker-compose.yml")
    return loaded


def test_compose_has_kafka_kraft_redis_worker_and_prometheus(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"kafka", "redis", "worker", "prometheus"} <= set(services)
    kafka = services["kafka"]
    assert kafka["image"] == "apache/kafka:4.1.1"
    env = kafka["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "zookeeper" not in str(kafka).lower()
    assert services["redis"]["image"] == "redis:7"


def test_compose_worker_runs_the_image_of_this_repo(compose: dict[str, Any]) -> None:
    worker = compose["services"]["worker"]
    assert worker["build"] == {"context": ".", "dockerfile": "Dockerfile"}
    assert worker["command"] == ["impulse-stream", "worker"]
    env = {k: str(v) for k, v in worker["environment"].items()}
    assert set(env) <= settings_env_names(), "an env var the worker does not read"
    settings = Settings.from_env(env)
    kafka_env = compose["services"]["kafka"]["environment"]
    assert f"//{settings.kafka_bootstrap_servers}" in kafka_env["KAFKA_ADVERTISED_LISTENERS"]
    assert settings.redis_url.startswith("redis://redis:")
    assert settings.web_host == "0.0.0.0" and settings.web_port == WEB_PORT
    assert f"{WEB_PORT}:{WEB_PORT}" in worker["ports"]
    assert worker["depends_on"]["kafka-init"]["condition"] == "service_completed_successfully"


def test_compose_creates_every_contract_topic_alike(compose: dict[str, Any]) -> None:
    script = compose["services"]["kafka-init"]["command"][0]
    created = dict(re.findall(r"^create (\S+)(.*)$", script, re.MULTILINE))
    specs = topics.topic_specs()
    assert set(created) == {s.name for s in specs}
    for spec in specs:
        configs = dict(re.findall(r"--config (\S+)=(\S+)", created[spec.name]))
        assert configs == spec.config, spec.name
    assert f"--partitions {topics.DEFAULT_PARTITIONS}" in script
    assert compose["services"]["kafka"]["environment"]["KAFKA_NUM_PARTITIONS"] == (
        topics.DEFAULT_PARTITIONS
    )


def test_compose_mounts_the_prometheus_files_of_the_repo(compose: dict[str, Any]) -> None:
    for volume in compose["services"]["prometheus"]["volumes"]:
        source = volume.split(":")[0]
        assert (ROOT / source).is_file(), source


def test_dockerfile_builds_the_worker_image() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11", text, re.MULTILINE)
    assert 'CMD ["impulse-stream", "worker"]' in text
    assert f"EXPOSE {WEB_PORT}" in text
    assert re.search(r"^USER 10001", text, re.MULTILINE)
    assert "-c constraints.txt" in text
    for copied in re.findall(r"^COPY (?!--from)(.+) \S+$", text, re.MULTILINE):
        for source in copied.split():
            assert (ROOT / source).exists(), source


# --- Prometheus --------------------------------------------------------------------------


def test_prometheus_scrapes_the_workers_metrics_and_loads_the_alerts() -> None:
    config = load(ROOT / "deploy" / "prometheus" / "prometheus.yml")
    (job,) = config["scrape_configs"]
    assert job["job_name"] == "impulse-stream" and job["metrics_path"] == "/metrics"
    assert job["static_configs"][0]["targets"] == [f"worker:{WEB_PORT}"]
    # relative to prometheus.yml: the same file in the container and in the repository
    assert config["rule_files"] == ["alerts.yml"]
    assert (ROOT / "deploy" / "prometheus" / "alerts.yml").is_file()


@pytest.fixture(scope="module")
def alert_rules() -> list[dict[str, Any]]:
    config = load(ROOT / "deploy" / "prometheus" / "alerts.yml")
    return [rule for group in config["groups"] for rule in group["rules"]]


def test_the_alerts_an_sre_needs_are_there(alert_rules: list[dict[str, Any]]) -> None:
    assert {r["alert"] for r in alert_rules} == {
        "ImpulseStreamConsumerLagGrowing",
        "ImpulseStreamDeadLettersRising",
        "ImpulseStreamConsumerStalled",
        "ImpulseStreamRedisLatencyHigh",
        "ImpulseStreamWorkerNotReady",
        "ImpulseStreamPublishErrors",
        "ImpulseStreamPartitionBlocked",
    }
    for rule in alert_rules:
        assert re.fullmatch(r"\d+[smh]", rule["for"])
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        assert rule["annotations"]["runbook_url"].startswith("docs/runbook.md#")
        assert rule["expr"].count("(") == rule["expr"].count(")")


def test_alerts_use_only_metrics_the_worker_exports(alert_rules: list[dict[str, Any]]) -> None:
    used = set()
    for rule in alert_rules:
        names = {base_metric(n) for n in metric_names(rule["expr"])}
        assert names, rule["alert"]
        known = METRICS | PROMETHEUS_SERIES
        assert names <= known, (rule["alert"], names - known)
        used |= names
    assert "impulse_stream_consumer_lag" in used


def test_metric_name_extraction_sees_through_promql() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (instance, le) (rate(foo_bucket{job="x"}[5m]))) > 0.05'
        " and on (instance) bar > 0"
    )
    assert metric_names(expr) == {"foo_bucket", "bar"}


# --- Kubernetes ---------------------------------------------------------------------------


def test_every_manifest_parses_and_is_in_the_kustomization() -> None:
    files = sorted(p.name for p in K8S.glob("*.yaml"))
    kustomization = load(K8S / "kustomization.yaml")
    assert sorted(kustomization["resources"]) == sorted(
        f for f in files if f != "kustomization.yaml"
    )
    assert set(k8s_objects()) == {
        "Kustomization",
        "ConfigMap",
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
    }


def test_no_secret_is_committed() -> None:
    assert "Secret" not in k8s_objects()
    config = k8s_objects()["ConfigMap"]["data"]
    assert "REDIS_URL" not in config
    assert not any(
        re.search(r"pass(word)?|token|://[^/]*:[^/]*@", v, re.I) for v in config.values()
    )


def test_the_configmap_sets_only_settings_the_worker_reads() -> None:
    config = k8s_objects()["ConfigMap"]["data"]
    assert set(config) <= settings_env_names()
    settings = Settings.from_env({**config, "REDIS_URL": "redis://redis:6379/0"})
    assert settings.partitions == topics.DEFAULT_PARTITIONS
    assert (settings.web_host, settings.web_port) == ("0.0.0.0", WEB_PORT)


def test_worker_deployment_probes_resources_and_shutdown() -> None:
    deployment = k8s_objects()["Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"] == ["impulse-stream", "worker"]
    assert container["ports"] == [{"name": "web", "containerPort": WEB_PORT, "protocol": "TCP"}]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "web"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "web"}
    resources = container["resources"]
    assert resources["requests"] == resources["limits"] == {"cpu": "1", "memory": "1Gi"}
    assert pod["terminationGracePeriodSeconds"] >= 30
    assert container["envFrom"] == [{"configMapRef": {"name": "impulse-stream"}}]
    (redis_url,) = container["env"]
    assert redis_url["name"] == "REDIS_URL" and "secretKeyRef" in redis_url["valueFrom"]
    assert "replicas" not in deployment["spec"]  # the autoscaler owns it
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxSurge"] == 0
    labels = deployment["spec"]["selector"]["matchLabels"]
    assert deployment["spec"]["template"]["metadata"]["labels"] == labels
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(WEB_PORT)


def test_service_pdb_and_autoscaler_select_the_worker() -> None:
    objects = k8s_objects()
    labels = objects["Deployment"]["spec"]["selector"]["matchLabels"]
    service = objects["Service"]["spec"]
    assert service["selector"] == labels
    assert service["ports"] == [
        {"name": "web", "port": WEB_PORT, "targetPort": "web", "protocol": "TCP"}
    ]
    assert objects["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"] == labels
    assert objects["PodDisruptionBudget"]["spec"]["maxUnavailable"] == 1
    hpa = objects["HorizontalPodAutoscaler"]["spec"]
    assert hpa["scaleTargetRef"]["name"] == objects["Deployment"]["metadata"]["name"]
    # a partition is consumed by one worker: more replicas than partitions sit idle
    assert 1 <= hpa["minReplicas"] <= hpa["maxReplicas"] <= topics.DEFAULT_PARTITIONS


def test_the_autoscaler_scales_on_consumer_lag_per_replica_and_on_cpu() -> None:
    hpa = k8s_objects()["HorizontalPodAutoscaler"]["spec"]
    by_type = {m["type"]: m for m in hpa["metrics"]}
    assert set(by_type) == {"External", "Resource"}
    lag = by_type["External"]["external"]
    assert lag["metric"]["name"] == "impulse_stream_consumer_lag"
    assert lag["metric"]["name"] in METRICS
    assert lag["target"]["type"] == "AverageValue" and int(lag["target"]["averageValue"]) > 0
    assert by_type["Resource"]["resource"]["name"] == "cpu"
    adapter = load(K8S / "monitoring" / "prometheus-adapter-values.yaml")
    (rule,) = adapter["rules"]["external"]
    assert rule["name"]["as"] == lag["metric"]["name"]
    assert "impulse_stream_consumer_lag" in rule["seriesQuery"]
    assert "max by (namespace, topic, partition)" in rule["metricsQuery"]


# --- Prometheus Operator (deploy/k8s/monitoring) -------------------------------------------

MONITORING = K8S / "monitoring"


def monitoring_objects() -> dict[str, dict[str, Any]]:
    kustomization = load(MONITORING / "kustomization.yaml")
    assert kustomization["namespace"] == load(K8S / "kustomization.yaml")["namespace"]
    return {doc["kind"]: doc for doc in (load(MONITORING / f) for f in kustomization["resources"])}


def test_the_monitoring_kustomization_has_a_servicemonitor_and_a_prometheusrule() -> None:
    objects = monitoring_objects()
    assert set(objects) == {"ServiceMonitor", "PrometheusRule"}
    assert {o["apiVersion"] for o in objects.values()} == {"monitoring.coreos.com/v1"}


def test_the_servicemonitor_scrapes_the_worker_service_as_job_impulse_stream() -> None:
    monitor = monitoring_objects()["ServiceMonitor"]["spec"]
    service = k8s_objects()["Service"]
    assert monitor["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    (endpoint,) = monitor["endpoints"]
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert endpoint["path"] == "/metrics"
    # ImpulseStreamWorkerNotReady selects up{job="impulse-stream"}
    assert {"action": "replace", "targetLabel": "job", "replacement": "impulse-stream"} in (
        endpoint["relabelings"]
    )


def test_the_prometheusrule_carries_exactly_the_alerts_of_alerts_yml() -> None:
    rule = monitoring_objects()["PrometheusRule"]
    alerts = load(ROOT / "deploy" / "prometheus" / "alerts.yml")
    assert rule["spec"]["groups"] == alerts["groups"], (
        "deploy/k8s/monitoring/prometheusrule.yaml differs from deploy/prometheus/alerts.yml: "
        "copy the groups of alerts.yml into spec.groups"
    )
