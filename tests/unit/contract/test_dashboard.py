"""The Grafana dashboard parses, is laid out on Grafana's grid and queries real metrics.

That every name is in a running worker's /metrics, and every query returns data
from a real Prometheus, is checked in tests/integration/test_prometheus_scrape.py.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from impulse_stream.streaming.metrics import Metrics

from .conftest import ROOT
from .test_deploy import metric_names

DASHBOARD = ROOT / "deploy" / "grafana" / "impulse-stream.json"
SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "info": ("_info",),
    "summary": ("", "_count", "_sum", "_created"),
}


def registered_series() -> set[str]:
    """Every series name the worker's registry can export."""
    names = set()
    for family in Metrics().registry.collect():
        names |= {family.name + suffix for suffix in SUFFIXES[family.type]}
        names |= {s.name for s in family.samples}
    return names


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return loaded


def queries(dashboard: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def test_dashboard_is_a_grafana_dashboard_with_a_stable_uid(dashboard) -> None:
    assert dashboard["uid"] == "impulse-stream" and dashboard["title"]
    assert isinstance(dashboard["schemaVersion"], int) and dashboard["schemaVersion"] >= 36
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["instance"]["includeAll"] and variables["instance"]["allValue"] == ".*"


def test_panels_have_unique_ids_and_do_not_overlap_on_the_grid(dashboard) -> None:
    panels = dashboard["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    cells: set[tuple[int, int]] = set()
    for p in panels:
        g = p["gridPos"]
        assert g["x"] >= 0 and g["x"] + g["w"] <= 24 and g["h"] > 0, p["title"]
        mine = {
            (x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])
        }
        assert not cells & mine, f"{p['title']} overlaps another panel"
        cells |= mine


def test_every_query_panel_uses_the_datasource_variable_and_the_worker_filter(dashboard) -> None:
    for p in dashboard["panels"]:
        if p["type"] == "row":
            continue
        assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, p["title"]
        assert p["targets"], p["title"]
        ref_ids = [t["refId"] for t in p["targets"]]
        assert len(set(ref_ids)) == len(ref_ids), p["title"]
        for t in p["targets"]:
            assert 'instance=~"$instance"' in t["expr"], (p["title"], t["expr"])
            assert t["expr"].count("(") == t["expr"].count(")"), t["expr"]


def test_every_metric_in_a_query_is_registered_by_the_worker(dashboard) -> None:
    known = registered_series()
    template = dashboard["templating"]["list"][1]["query"]["query"]
    for expr in [*queries(dashboard), template]:
        names = metric_names(re.sub(r"label_values\((\w+),.*\)", r"\1", expr))
        assert names, expr
        assert names <= known, (expr, names - known)


def test_the_dashboard_shows_what_an_sre_watches(dashboard) -> None:
    used = set().union(*(metric_names(q) for q in queries(dashboard)))
    for name in (
        "impulse_stream_events_in_total",  # throughput per topic
        "impulse_stream_processing_latency_seconds_bucket",  # latency percentiles
        "impulse_stream_consumer_lag",  # lag per partition
        "impulse_stream_opportunities_total",  # per action and status
        "impulse_stream_attributions_total",  # per channel
        "impulse_stream_policy_suppressions_total",
        "impulse_stream_dead_letters_total",
        "impulse_stream_redis_roundtrip_seconds_bucket",
        "impulse_stream_partitions_assigned",  # and its changes: rebalances
        "process_cpu_seconds_total",
        "impulse_stream_build_info",
    ):
        assert name in used, name
