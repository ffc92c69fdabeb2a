"""The worker's /metrics: process and Python runtime series, build info, known names."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from impulse_stream import __version__
from impulse_stream.bootstrap import build
from impulse_stream.catalogue_loader import load_catalogue
from impulse_stream.settings import Settings
from impulse_stream.streaming.metrics import Metrics
from tests.unit.contract.test_deploy import METRICS


def samples(exposition: bytes) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(exposition.decode()):
        for s in family.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def test_metrics_carry_process_and_python_runtime_series() -> None:
    got = samples(Metrics().exposition())
    for name in (
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_start_time_seconds",
        "python_info",
        "python_gc_collections_total",
    ):
        assert name in got, name
    ((_, value),) = got["process_resident_memory_bytes"]
    assert value > 1_000_000  # this interpreter uses more than a megabyte
    ((info, _),) = got["python_info"]
    assert info["major"] == "3" and info["minor"] == "11"


def test_build_info_names_the_release_and_the_rules_version() -> None:
    m = Metrics()
    m.set_build_info("1.2.3", "2026-11-a")
    ((labels, value),) = samples(m.exposition())["impulse_stream_build_info"]
    assert labels == {"version": "1.2.3", "rules_version": "2026-11-a"}
    assert value == 1.0


def test_the_composition_root_sets_build_info_from_the_package_and_the_catalogue() -> None:
    settings = Settings.from_env({"REDIS_URL": "redis://127.0.0.1:1/0"})
    container = build(settings)
    ((labels, _),) = samples(container.metrics.exposition())["impulse_stream_build_info"]
    assert labels == {"version": __version__, "rules_version": load_catalogue(None).version}


def test_every_metric_the_alerts_rely_on_is_registered() -> None:
    m = Metrics()
    # labelled series appear once a child exists
    m.events_in.labels("orders.flow")
    m.impulses.labels("order_abandoned")
    m.opportunities.labels("finish_credit_card_order", "open")
    m.opportunities_closed.labels("finish_credit_card_order", "accepted")
    m.suppressions.labels("cooling_off")
    m.dead_letters.labels("invalid_json", "orders.flow")
    m.consumer_lag.labels("orders.flow", "0")
    m.partition_blocked.labels("3", "state_lost")
    got = set(samples(m.exposition()))
    histograms = {n.removesuffix("_count") for n in got if n.endswith("_count")}
    assert not METRICS - got - histograms
