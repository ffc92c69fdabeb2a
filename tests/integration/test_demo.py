"""``impulse-stream demo --for N``: a bank day with the worked example on the desktop."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
import urllib.request

import pytest

from tests.support.worker_process import REPO

pytestmark = pytest.mark.integration

CARD = 'data-action-id="finish_credit_card_order"'


def test_demo_plays_a_bank_day_shows_the_worked_example_on_the_desktop_and_stops_by_itself(
    kafka_bootstrap, redis_url, topic_prefix, redis_prefix, tmp_path
):
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "REDIS_URL": redis_url,
        "IMPULSE_STREAM_TOPIC_PREFIX": topic_prefix,
        "IMPULSE_STREAM_REDIS_PREFIX": redis_prefix,
        "IMPULSE_STREAM_APP_ID": f"{topic_prefix}demo",
        "IMPULSE_STREAM_DATA_DIR": str(tmp_path),
        "COLUMNS": "400",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "impulse_stream.cli", "demo", "--for", "70", "--customers", "500"],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout or ()), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 120
        url = None
        while url is None:
            assert time.monotonic() < deadline, "".join(lines)
            assert proc.poll() is None, "".join(lines)
            found = re.search(r"Agent desktop: (http://\S+)", "".join(lines))
            url = found.group(1) if found else None
            time.sleep(0.5)
        # within a minute the desktop shows the worked example's card order first
        first = None
        while first is None:
            assert time.monotonic() < deadline, f"no card order on {url}: {''.join(lines)}"
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    page = r.read().decode()
            except OSError:
                page = ""
            cards = re.findall(r'data-action-id="([a-z_]+)" data-opportunity-id', page)
            if cards and cards[0] == "finish_credit_card_order":
                first = cards[0]
            time.sleep(1)
        assert proc.wait(120) == 0, "".join(lines)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(5)
    assert proc.stdout is not None
    proc.stdout.close()
    out = "".join(lines)
    summaries = [line for line in out.splitlines() if line.startswith("events/s")]
    assert summaries, out
    last = summaries[-1]
    assert int(re.search(r"impulses (\d+)", last).group(1)) > 0, last
    assert int(re.search(r"opportunities (\d+)", last).group(1)) > 0, last
    assert int(re.search(r"responses (\d+)", last).group(1)) > 0, last
    assert "stopping the desk, the worker and the stack" in out
    with pytest.raises(OSError):
        urllib.request.urlopen(url, timeout=2)
