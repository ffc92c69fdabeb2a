"""A real Prometheus scrapes a real worker: dashboard queries return data, the stall alert fires.

Prometheus (Debian's binary) runs as a local process on a free loopback port with
a config and TSDB in the test's tmp dir, scraping every second.
"""

from __future__ import annotations

import asyncio
import copy
import json
import time
from datetime import timedelta
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from impulse_stream.contract import topics
from tests.support.kafka import produce, read_all
from tests.support.prometheus import REPO, PrometheusServer, alert_rules
from tests.support.scenarios import (
    T0,
    abandoned_card_order,
    inbound_call,
    order_step,
    profile,
)
from tests.unit.contract.test_deploy import metric_names

pytestmark = pytest.mark.integration

DASHBOARD = REPO / "deploy" / "grafana" / "impulse-stream.json"
STALLED = "ImpulseStreamConsumerStalled"


def send(workers, topic: str, events: list, **kw: Any) -> None:
    asyncio.run(produce(workers.bootstrap, workers.prefix + topic, events, **kw))


def dashboard_queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


# Labelled series that appear only on a rare event: a redelivered batch, a blocked
# partition, a batch that failed as a whole.
RARE = {
    "impulse_stream_duplicate_events_total",
    "impulse_stream_partition_blocked",
    "impulse_stream_batch_failures_total",
}
SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "info": ("_info",),
}


def exported_names(exposition: bytes) -> tuple[set[str], set[str]]:
    """(names declared in the exposition, names with samples in it)."""
    declared, sampled = set(), set()
    for family in text_string_to_metric_families(exposition.decode()):
        declared |= {family.name + suffix for suffix in SUFFIXES.get(family.type, ("",))}
        sampled |= {s.name for s in family.samples}
    return declared | sampled, sampled


def wait_for(check, timeout: float, what: str, on_fail=lambda: "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {timeout}s: {on_fail()}")
        time.sleep(0.5)


@pytest.fixture
def prometheus(tmp_path):
    started: list[PrometheusServer] = []

    def start(targets: list[str], rules: dict[str, Any]) -> PrometheusServer:
        server = PrometheusServer(tmp_path / "prometheus", targets, rules).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def test_every_dashboard_query_returns_data_from_a_scraped_worker(workers, prometheus):
    w = workers.start()
    cid = "c-3101"
    send(workers, topics.PROFILES, [profile(cid)])
    send(workers, topics.ORDERS, abandoned_card_order(cid))
    send(workers, topics.CONTACTS, [inbound_call(cid, T0 + timedelta(minutes=40))])
    send(workers, topics.ORDERS, [b"{not json"], key=lambda e: cid.encode())
    # a card holder's abandoned card order: the contact policy holds the offer back
    holder = "c-3102"
    send(workers, topics.PROFILES, [profile(holder, products=["current_account", "credit_card"])])
    send(workers, topics.ORDERS, abandoned_card_order(holder))
    send(workers, topics.CONTACTS, [inbound_call(holder, T0 + timedelta(minutes=40))])
    done = order_step(cid, f"ord-{cid}", "completed", 4, T0 + timedelta(minutes=50))
    send(workers, topics.ORDERS, [{**done, "channel": "call_centre"}])
    asyncio.run(
        read_all(workers.bootstrap, workers.prefix + topics.ATTRIBUTIONS, until=lambda r: r)
    )
    # the lag gauge is refreshed every 5 s
    for series in (b"impulse_stream_consumer_lag{", b"impulse_stream_policy_suppressions_total{"):
        wait_for(lambda s=series: s in w.get("/metrics")[1], 15, f"{series.decode()} exported")
    status, exposition = w.get("/metrics")
    assert status == 200
    declared, sampled = exported_names(exposition)
    queries = dashboard_queries()
    for expr in queries:
        assert metric_names(expr) <= declared, (expr, metric_names(expr) - declared)
    without_samples = set().union(*(metric_names(q) for q in queries)) - sampled
    assert without_samples <= RARE

    server = prometheus([f"127.0.0.1:{w.port}"], alert_rules())
    runnable = [
        q.replace("$__rate_interval", "1m").replace("$instance", ".*")
        for q in queries
        if not metric_names(q) & without_samples
    ]
    assert len(runnable) >= len(queries) - 3

    def empty() -> list[str]:
        return [q for q in runnable if not server.query(q)]

    # rate() needs two scrapes
    wait_for(lambda: not empty(), 30, "every query returning data", lambda: str(empty()))
    (build,) = server.query('impulse_stream_build_info{job="impulse-stream"}')
    assert build["metric"]["version"] and build["metric"]["rules_version"]


def stalled_rules(stall_seconds: int) -> dict[str, Any]:
    """alerts.yml with the stalled-consumer rule at test speed: threshold and ``for`` shortened."""
    rules = copy.deepcopy(alert_rules())
    (rule,) = [r for g in rules["groups"] for r in g["rules"] if r.get("alert") == STALLED]
    expr = rule["expr"]
    rule["expr"] = expr.replace(") > 300", f") > {stall_seconds}")
    assert rule["expr"] != expr, "the stall threshold moved in alerts.yml"
    rule["for"] = "2s"
    return rules


def test_stalled_partition_alert_fires_when_the_worker_stops_progressing(
    workers, stack, prometheus
):
    started = time.monotonic()
    w = workers.start()
    send(workers, topics.ORDERS, [order_step("c-3201", "o-3201", "started", 0, T0)])
    wait_for(lambda: b"impulse_stream_events_in_total{" in w.get("/metrics")[1], 20, "first batch")
    server = prometheus([f"127.0.0.1:{w.port}"], stalled_rules(stall_seconds=4))

    def alert() -> dict[str, Any] | None:
        return next((a for a in server.alerts() if a["labels"]["alertname"] == STALLED), None)

    wait_for(lambda: server.query('up{job="impulse-stream"} == 1'), 20, "first scrape")
    assert alert() is None  # caught up: no lag, nothing stalled

    stack.kill_redis(hard=True)  # the batch path retries forever: no progress from here
    try:
        send(workers, topics.ORDERS, [order_step("c-3202", "o-3202", "started", 0, T0)])
        firing = wait_for(
            lambda: (a := alert()) is not None and a["state"] == "firing" and a,
            60,
            f"{STALLED} firing",
            lambda: f"{server.alerts()} {w.get('/healthz')}",
        )
    finally:
        stack.start_redis()
    assert firing["labels"]["instance"] == f"127.0.0.1:{w.port}"
    assert firing["labels"]["severity"] == "critical"
    assert firing["annotations"]["runbook_url"] == "docs/runbook.md#impulsestreamconsumerstalled"
    assert time.monotonic() - started < 120
