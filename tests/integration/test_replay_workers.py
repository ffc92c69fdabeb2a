"""A data engineer replays a recording over several processes (``replay --workers N``):
the same messages, byte for byte and in the same order per partition, and the same
Redis state as one process; a worker that dies ends the replay in one line."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import redis

from impulse_stream.contract import topics
from impulse_stream.datatools.generate import GenerateSpec, write_files
from tests.support.child_processes import alive, children_of
from tests.support.kafka import read_all
from tests.support.worker_process import run_replay

pytestmark = pytest.mark.integration

KEYED_BY_CUSTOMER = (topics.IMPULSES, topics.OPPORTUNITIES, topics.ATTRIBUTIONS)
KEYED_BY_GROUP = (topics.EMPLOYER_MEMBERS, topics.HOUSEHOLD_MEMBERS)


@pytest.fixture
def env(kafka_bootstrap: str, redis_url: str, topic_prefix: str, redis_prefix: str):
    return {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "REDIS_URL": redis_url,
        "IMPULSE_STREAM_TOPIC_PREFIX": topic_prefix,
        "IMPULSE_STREAM_REDIS_PREFIX": redis_prefix,
        "PYTHONUNBUFFERED": "1",
    }


def month(tmp_path: Path, customers: int) -> Path:
    out = tmp_path / f"month-{customers}"
    write_files(GenerateSpec(customers, 30, 4), out, 6)
    return out


def outputs(bootstrap: str, prefix: str) -> dict[tuple[str, int], object]:
    """Per output topic-partition: the records (key, value, headers) in offset order, or
    as a multiset on the topics keyed by employer or household (their partitions take
    the members of customers of every input partition, so of every process)."""
    got: dict[tuple[str, int], list[tuple[bytes | None, bytes | None, tuple]]] = {}
    for topic in KEYED_BY_CUSTOMER + KEYED_BY_GROUP:
        for r in asyncio.run(read_all(bootstrap, prefix + topic, settle=1.0, timeout=60)):
            got.setdefault((topic, r.partition), []).append(
                (r.key, r.value, tuple(sorted(r.headers.items())))
            )
    return {
        at: records if at[0] in KEYED_BY_CUSTOMER else Counter(records)
        for at, records in got.items()
    }


def state(redis_url: str, prefix: str) -> dict[bytes, object]:
    """Every key under ``prefix`` (without it) with its value, whatever its type; a
    customer's record without its write nonce."""
    r = redis.Redis.from_url(redis_url)
    found: dict[bytes, object] = {}
    try:
        for key in r.scan_iter(match=prefix + "*", count=1000):
            kind = r.type(key)
            value: object
            if kind == b"hash":
                value = r.hgetall(key)
                if key.startswith((prefix + "c:").encode()):
                    # the nonce of the last write: random per write (store/commit.lua)
                    value.pop(b"w", None)
            elif kind == b"zset":
                value = r.zrange(key, 0, -1, withscores=True)
            elif kind == b"set":
                value = r.smembers(key)
            elif kind == b"list":
                value = r.lrange(key, 0, -1)
            else:
                value = r.get(key)
            found[key[len(prefix) :]] = value
    finally:
        r.close()
    return found


@pytest.mark.parametrize("responses", [True, False], ids=["learning", "no-responses"])
def test_a_month_replayed_by_two_processes_publishes_and_stores_what_one_process_does(
    env, kafka_bootstrap, redis_url, topic_prefix, redis_prefix, tmp_path, responses
):
    """With responses the processes meet at each batch's snapshots; without, never."""
    recording = month(tmp_path, 150)
    if not responses:
        (recording / f"{topics.RESPONSES}.jsonl").unlink()
    one = run_replay(env, "w1", "--input", str(recording), "--workers", "1")
    assert one.returncode == 0, one.stderr
    assert "(1 process)" in one.stdout
    two = run_replay(env, "w2", "--input", str(recording), "--workers", "2")
    assert two.returncode == 0, two.stderr
    assert "(2 processes)" in two.stdout
    # the same summary: events read, messages published
    assert one.stdout.split(" in ")[0] == two.stdout.split(" in ")[0]
    assert (
        one.stdout.split(": ")[1].split(" published")[0]
        == (two.stdout.split(": ")[1].split(" published")[0])
    )

    serial = outputs(kafka_bootstrap, "replay-w1." + topic_prefix)
    assert sum(len(v) for (t, _), v in serial.items() if t == topics.OPPORTUNITIES) > 100
    assert outputs(kafka_bootstrap, "replay-w2." + topic_prefix) == serial

    stored = state(redis_url, redis_prefix + "replay-w1:")
    assert any(b"acceptance" in k for k in stored) == responses
    assert state(redis_url, redis_prefix + "replay-w2:") == stored


def test_a_replay_worker_killed_ends_the_replay_in_one_line_and_stops_the_others(env, tmp_path):
    recording = month(tmp_path, 600)
    proc = subprocess.Popen(
        [sys.executable, "-m", "impulse_stream.cli", "replay", "--name", "killed",
         "--input", str(recording), "--workers", "2"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        children = children_of(proc.pid, 2, timeout=120)
        time.sleep(1.0)  # both at work
        os.kill(children[0], signal.SIGKILL)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 2, stderr
    assert len(said(stderr)) == 1, stderr
    assert "replay worker" in stderr and "exit code -9" in stderr
    assert "the other workers were stopped" in stderr
    assert not any(Path(f"/proc/{pid}").exists() and alive(pid) for pid in children)


def test_ctrl_c_stops_a_replay_over_processes_in_one_line(env, tmp_path):
    recording = month(tmp_path, 600)
    proc = subprocess.Popen(
        [sys.executable, "-m", "impulse_stream.cli", "replay", "--name", "stopped",
         "--input", str(recording), "--workers", "2"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        children = children_of(proc.pid, 2, timeout=120)
        time.sleep(1.0)
        os.killpg(proc.pid, signal.SIGINT)  # as a terminal sends it: to the whole group
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert len(said(stderr)) == 1, stderr
    assert "replay 'stopped' stopped" in stderr and "is partial" in stderr
    assert not any(alive(pid) for pid in children)


def said(stderr: str) -> list[str]:
    """The command's own lines: without aiokafka's warnings that a topic the replay has
    just created has no leader yet (it retries; the one-process replay logs them too)."""
    return [
        line
        for line in stderr.strip().splitlines()
        if not line.startswith("Got error produce response on topic-partition")
    ]
