"""A backtest runs its two catalogues side by side in two processes (``--workers``): the
same report, byte for byte, as one after the other; a run that dies or Ctrl-C ends it in
one line, with nothing left running."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from impulse_stream.catalogue_loader import load_catalogue, parse_catalogue_text
from impulse_stream.datatools.backtest import compare, open_catalogue, opened_run, run_catalogue
from impulse_stream.datatools.generate import GenerateSpec, write_files
from impulse_stream.datatools.recording import read_timed_recordings, recording_files
from impulse_stream.datatools.render import render_json
from tests.support.child_processes import alive, children_of
from tests.unit.cli.test_cli_errors import REPO, assert_clean_failure, cli

DEFAULT = REPO / "src/impulse_stream/catalogue/default.yaml"
LOWER_RATIO = ("min_ratio: 1.5", "min_ratio: 1.2")  # balance_above_usual fires more often


def candidate_text() -> str:
    text = DEFAULT.read_text()
    assert text.count(LOWER_RATIO[0]) == 1
    return text.replace(*LOWER_RATIO).replace('version: "2026.11.1"', 'version: "2026.11.1-r"')


@pytest.fixture(scope="module")
def month(tmp_path_factory):
    out = tmp_path_factory.mktemp("month")
    write_files(GenerateSpec(250, 20, 3), out, 6)
    timed = list(read_timed_recordings(recording_files([out])))
    return out, timed


@pytest.mark.parametrize("report_from", ["", "2026-11-01"], ids=["everything", "from-nov"])
def test_the_catalogues_side_by_side_report_byte_for_byte_what_one_after_the_other_does(
    month, report_from
):
    _, timed = month
    messages = [m for _, m in timed]
    since_ms = 1_793_491_200_000 if report_from else 0  # 2026-11-01T00:00Z
    warm_up = sum(1 for ts, _ in timed if ts < since_ms)
    baseline = load_catalogue()
    candidate = parse_catalogue_text(candidate_text(), "2026.11.1-r")
    reports = [
        render_json(
            compare(messages, baseline, candidate, 10, warm_up, report_from, workers=workers)
        )
        for workers in (1, 2)
    ]
    serial, parallel = reports
    assert parallel == serial
    report = orjson.loads(serial)
    assert report["added"]["total"] > 0 and report["customers_affected"] > 0
    assert report["baseline"]["opened"] > 100 and report["samples"]
    assert report["baseline"]["outbound_per_day"] and report["baseline"]["suppressions"]


@pytest.mark.parametrize("report_from", ["", "2026-11-01"], ids=["everything", "from-nov"])
def test_a_run_that_keeps_no_messages_opens_what_a_run_that_keeps_them_opens(month, report_from):
    _, timed = month
    messages = [m for _, m in timed]
    candidate = parse_catalogue_text(candidate_text(), "2026.11.1-r")
    kept = opened_run(run_catalogue(candidate, messages, "kept"), report_from)
    streamed = open_catalogue(candidate, messages, "streamed", report_from=report_from)
    assert list(streamed.opened.items()) == list(kept.opened.items())
    assert streamed == kept
    assert kept.outputs > len(kept.opened) > 100 and kept.impulses


def test_the_cli_reports_the_same_with_one_worker_and_with_two(month, tmp_path):
    out, _ = month
    candidate = tmp_path / "candidate.yaml"
    candidate.write_text(candidate_text())
    env = {"IMPULSE_STREAM_PSEUDONYM_KEY": "a fixed key for both reports"}
    runs = [
        cli("backtest", str(out), "--candidate", str(candidate), "--json", "--workers", n, env=env)
        for n in ("1", "2")
    ]
    for r in runs:
        assert r.returncode == 0, r.stderr
    assert runs[0].stdout == runs[1].stdout and orjson.loads(runs[0].stdout)["added_ids"]
    assert_clean_failure(
        cli("backtest", str(out), "--candidate", str(candidate), "--workers", "none"),
        "--workers",
        "at least 1",
    )


@pytest.fixture(scope="module")
def big_month(tmp_path_factory):
    """A month that takes the two runs long enough to be stopped half way."""
    out = tmp_path_factory.mktemp("big-month")
    write_files(GenerateSpec(3000, 30, 4), out, 6)
    return out


def start_backtest(recording: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "impulse_stream.cli", "backtest", str(recording),
         "--candidate", str(DEFAULT), "--workers", "2"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip


def test_a_catalogue_run_killed_ends_the_backtest_in_one_line_and_stops_the_other(big_month):
    proc = start_backtest(big_month)
    try:
        children = children_of(proc.pid, 2, timeout=120)
        time.sleep(1.0)  # both at work
        os.kill(children[1], signal.SIGKILL)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 2, stderr
    assert stdout == "" and "Traceback" not in stderr
    assert stderr == (
        "error: the backtest's candidate run (process 2 of 2): ended with exit code -9; "
        "the other run was stopped\n"
    )
    assert not any(alive(pid) for pid in children)


def test_ctrl_c_stops_both_catalogue_runs_in_one_line(big_month):
    proc = start_backtest(big_month)
    try:
        children = children_of(proc.pid, 2, timeout=120)
        time.sleep(1.0)
        os.killpg(proc.pid, signal.SIGINT)  # as a terminal sends it: to the whole group
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert stdout == "" and "Traceback" not in stderr
    assert re.fullmatch(
        r"interrupted: stopped during the baseline and candidate runs after [\d,]+ and "
        r"[\d,]+ of [\d,]+ events; no report written\n",
        stderr,
    ), stderr
    assert not any(alive(pid) for pid in children)
