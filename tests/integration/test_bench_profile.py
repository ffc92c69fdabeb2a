"""``make profile``'s backtest half end to end: py-spy records bench.backtest_rate on a tiny
month and the summary charges the CPU to the core and the batch path (never its timings)."""

from __future__ import annotations

import argparse

import orjson
import pytest
from bench.profile import markdown, profile_backtest

pytestmark = pytest.mark.integration


def test_py_spy_records_the_backtest_and_the_table_names_the_core_frames(tmp_path):
    args = argparse.Namespace(customers=15, rate=200, native=True)
    profile = profile_backtest(args, tmp_path)
    figures = orjson.loads((tmp_path / "backtest-rate.json").read_bytes())
    assert profile.events == figures["events"] > 0
    assert profile.samples > 0
    assert (tmp_path / "backtest.txt").stat().st_size > 0
    assert "decision core (core/, mypyc)" in profile.areas
    assert sum(profile.areas.values()) == pytest.approx(figures["cpu_us_per_event"], rel=0.01)
    assert markdown(profile).startswith(f"backtest: {profile.events:,} events")
