"""Settings of the local stack, the files it writes, and its CLI's answers to bad input.

Nothing here starts Kafka or Redis.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from impulse_stream.contract.topics import DEFAULT_PARTITIONS
from impulse_stream.errors import ConfigError, InfraError, ToolMissingError
from impulse_stream.infra import Stack, StackSettings, install
from impulse_stream.infra.admin import run_blocking
from impulse_stream.infra.cli import app
from impulse_stream.infra.kafka_broker import (
    new_cluster_id,
    render_log4j2,
    render_server_properties,
)
from impulse_stream.infra.processes import PidFile, is_running, spawn_detached, stop_process
from impulse_stream.infra.redis_server import redis_argv
from impulse_stream.infra.settings import repo_root


def settings(**env: str) -> StackSettings:
    return StackSettings.from_env(env)


def properties(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line and line[0] != "#")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# Settings


def test_defaults_are_the_local_stack_inside_the_checkout():
    s = settings()
    root = repo_root()
    assert (root / "infra" / "kafka" / "pom.xml").is_file()
    assert s.name == "local"
    assert (s.kafka_port, s.kafka_controller_port, s.redis_port) == (19092, 19093, 16379)
    assert s.data_dir == root / "var" / "local"
    assert s.cache_dir == root / ".cache"
    assert s.partitions == DEFAULT_PARTITIONS
    assert s.bootstrap_servers == "127.0.0.1:19092"
    assert s.redis_url == "redis://127.0.0.1:16379/0"


def test_a_named_stack_lives_in_its_own_directory_on_its_own_ports(tmp_path):
    s = settings(
        IMPULSE_STREAM_INFRA_NAME="test",
        IMPULSE_STREAM_DATA_DIR=str(tmp_path),
        IMPULSE_STREAM_CACHE_DIR=str(tmp_path / "cache"),
        KAFKA_PORT="29092",
        REDIS_PORT="26379",
        IMPULSE_STREAM_PARTITIONS="3",
    )
    assert s.data_dir == tmp_path / "test"
    assert s.cache_dir == tmp_path / "cache"
    assert s.kafka_controller_port == 29093  # next to the broker port unless given
    assert s.bootstrap_servers == "127.0.0.1:29092"
    assert s.redis_url == "redis://127.0.0.1:26379/0"
    assert s.partitions == 3


def test_options_beat_the_environment_and_none_means_not_given():
    s = StackSettings.from_env(
        {"KAFKA_PORT": "29092", "KAFKA_CONTROLLER_PORT": "29999"},
        kafka_port=39092,
        redis_port=None,
    )
    assert (s.kafka_port, s.kafka_controller_port, s.redis_port) == (39092, 29999, 16379)


def test_existing_servers_from_the_environment_replace_the_local_ones(tmp_path):
    s = settings(
        KAFKA_BOOTSTRAP_SERVERS="kafka-1:9092,kafka-2:9092",
        REDIS_URL="redis://r:6379/2",
        IMPULSE_STREAM_DATA_DIR=str(tmp_path),
    )
    assert s.bootstrap_servers == "kafka-1:9092,kafka-2:9092"
    assert s.redis_url == "redis://r:6379/2"
    stack = Stack(s)
    assert stack.kafka is None and stack.redis is None
    assert stack.down() == []
    with pytest.raises(InfraError, match="KAFKA_BOOTSTRAP_SERVERS"):
        stack.kill_kafka()
    with pytest.raises(InfraError, match="REDIS_URL"):
        stack.kill_redis()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"KAFKA_PORT": "abc"}, "KAFKA_PORT='abc': expected a port number"),
        ({"REDIS_PORT": "70000"}, "REDIS_PORT=70000: expected a port number"),
        ({"KAFKA_PORT": "tcp://10.0.0.1:9092"}, "KAFKA_PORT="),
        ({"REDIS_PORT": "19092"}, "must differ"),
        ({"KAFKA_PORT": "16378"}, "must differ"),  # its controller would take 16379
        ({"IMPULSE_STREAM_INFRA_NAME": "../etc"}, "IMPULSE_STREAM_INFRA_NAME="),
        ({"IMPULSE_STREAM_PARTITIONS": "0"}, "IMPULSE_STREAM_PARTITIONS=0"),
        ({"IMPULSE_STREAM_KAFKA_HEAP": "lots"}, "like 512m or 1g"),
        ({"IMPULSE_STREAM_STARTUP_TIMEOUT": "soon"}, "expected seconds"),
        ({"KAFKA_BOOTSTRAP_SERVERS": "localhost"}, "expected host:port"),
        ({"REDIS_URL": "http://localhost:6379"}, "expected redis://"),
    ],
)
def test_a_bad_setting_names_the_variable_and_what_is_allowed(env, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        settings(**env)


# Files the stack writes


def test_server_properties_describe_a_single_node_kraft_broker_on_loopback(tmp_path):
    s = settings(KAFKA_PORT="29092", IMPULSE_STREAM_PARTITIONS="4")
    props = properties(render_server_properties(s, tmp_path / "logs"))
    assert props["process.roles"] == "broker,controller"
    assert props["node.id"] == "1"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:29093"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:29092,CONTROLLER://127.0.0.1:29093"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:29092"
    assert props["controller.listener.names"] == "CONTROLLER"
    assert props["log.dirs"] == str(tmp_path / "logs")
    assert props["auto.create.topics.enable"] == "false"
    assert props["group.initial.rebalance.delay.ms"] == "0"
    assert props["num.partitions"] == "4"
    for key in (
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "transaction.state.log.min.isr",
        "default.replication.factor",
    ):
        assert props[key] == "1", key
    assert int(props["broker.heartbeat.interval.ms"]) < int(props["broker.session.timeout.ms"])


def test_the_broker_logs_to_a_file_in_its_data_directory(tmp_path):
    text = render_log4j2(tmp_path / "server.log")
    assert f"appender.file.fileName = {tmp_path / 'server.log'}" in text
    assert "rootLogger.level = INFO" in text


def test_a_cluster_id_is_16_bytes_in_base64url():
    ids = {new_cluster_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_-]{21}", i) for i in ids)


def test_redis_keeps_an_append_only_file_and_no_snapshots(tmp_path):
    argv = redis_argv("/usr/bin/redis-server", settings(REDIS_PORT="26379"), tmp_path)
    options = dict(zip(argv[1::2], argv[2::2], strict=True))
    assert options["--bind"] == "127.0.0.1"
    assert options["--port"] == "26379"
    assert options["--dir"] == str(tmp_path)
    assert options["--appendonly"] == "yes"
    assert options["--appendfsync"] == "everysec"
    assert options["--save"] == ""
    assert options["--daemonize"] == "no"


# Installation


def test_the_jar_directory_is_named_after_the_pinned_kafka_version():
    s = settings()
    assert install.kafka_version(s.kafka_pom) == "4.1.1"
    assert install.kafka_home(s) == s.cache_dir / "kafka-4.1.1"


def test_a_missing_pom_says_where_to_run_from(tmp_path):
    with pytest.raises(InfraError, match="IMPULSE_STREAM_KAFKA_POM"):
        install.kafka_version(tmp_path / "pom.xml")


def _cache_with_pom(tmp_path: Path) -> StackSettings:
    pom = tmp_path / "pom.xml"
    pom.write_text(settings().kafka_pom.read_text())
    return settings(
        IMPULSE_STREAM_CACHE_DIR=str(tmp_path / "cache"), IMPULSE_STREAM_KAFKA_POM=str(pom)
    )


def test_resolved_jars_are_not_fetched_again(tmp_path, monkeypatch):
    s = _cache_with_pom(tmp_path)
    libs = install.kafka_home(s) / "libs"
    libs.mkdir(parents=True)
    (install.kafka_home(s) / "resolved.sha256").write_text(
        install.hashlib.sha256(s.kafka_pom.read_bytes()).hexdigest()
    )
    monkeypatch.setattr(install.shutil, "which", lambda name: None)  # no mvn, no java needed
    assert install.ensure_kafka_jars(s) == libs


def test_without_maven_the_error_says_how_to_install_it(tmp_path, monkeypatch):
    s = _cache_with_pom(tmp_path)
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr(
        install.shutil, "which", lambda name: "/bin/java" if name == "java" else None
    )
    with pytest.raises(ToolMissingError, match="mvn not found"):
        install.ensure_kafka_jars(s)


def test_without_java_the_error_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr(install.shutil, "which", lambda name: None)
    with pytest.raises(ToolMissingError, match="java not found"):
        install.ensure_kafka_jars(_cache_with_pom(tmp_path))


def test_without_redis_server_or_apt_the_error_offers_redis_url(tmp_path, monkeypatch):
    monkeypatch.setattr(install, "redis_server_binary", lambda: None)
    monkeypatch.setattr(install.shutil, "which", lambda name: None)
    with pytest.raises(ToolMissingError, match="REDIS_URL"):
        install.ensure_redis_server(settings(IMPULSE_STREAM_CACHE_DIR=str(tmp_path)))


def test_a_missing_redis_server_is_installed_with_apt_get_non_interactively(tmp_path, monkeypatch):
    calls = tmp_path / "calls"
    apt = tmp_path / "apt-get"
    apt.write_text(f'#!/bin/sh\necho "$DEBIAN_FRONTEND $*" >> {calls}\n')
    apt.chmod(0o755)
    installed = iter([None, "/usr/bin/redis-server"])
    monkeypatch.setattr(install, "redis_server_binary", lambda: next(installed))
    monkeypatch.setattr(
        install.shutil, "which", lambda name: str(apt) if name == "apt-get" else None
    )

    assert install.ensure_redis_server(settings(IMPULSE_STREAM_CACHE_DIR=str(tmp_path))) == (
        "/usr/bin/redis-server"
    )
    update, add = calls.read_text().splitlines()
    assert update == "noninteractive update -q"
    assert add.startswith("noninteractive install -y")
    assert add.endswith(" redis-server")


# Processes


def test_a_detached_server_runs_in_its_own_session_and_stops_on_request(tmp_path):
    pid = spawn_detached(["/bin/sleep", "60"], tmp_path / "out.log")
    try:
        assert is_running(pid)
        assert os.getsid(pid) == pid
        assert os.getpgid(pid) == pid
    finally:
        stop_process(pid, timeout=5)
    assert not is_running(pid)


def test_a_server_whose_main_thread_has_exited_still_runs_while_other_threads_do(tmp_path):
    # What SIGKILL leaves for a moment in redis or a JVM: the leader is a zombie, while
    # other threads still hold the listening socket, so the port is not free yet.
    script = (
        "import ctypes, sys, threading, time\n"
        "threading.Thread(target=time.sleep, args=(60,)).start()\n"
        "print('ready', flush=True)\n"
        "ctypes.CDLL(None).pthread_exit(None)\n"
    )
    log = tmp_path / "out.log"
    pid = spawn_detached([sys.executable, "-c", script], log)
    try:
        deadline = time.monotonic() + 10
        while Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.02)
        assert is_running(pid)
    finally:
        stop_process(pid, timeout=5)
    assert not is_running(pid)


def test_a_pid_file_naming_another_program_is_stale(tmp_path):
    pid_file = PidFile(tmp_path / "kafka.pid", "kafka.Kafka /nowhere/server.properties ")
    pid_file.write(os.getpid())  # alive, but not our broker
    assert pid_file.pid() is None
    assert not pid_file.path.exists()


# CLI


def run_cli(*args: str, **env: str):
    """The CLI with none of the stack's variables from the caller's environment."""
    clean: dict[str, str | None] = dict.fromkeys(StackSettings.ENV.values())
    return CliRunner().invoke(app, list(args), env={**clean, **env})


@pytest.mark.parametrize(
    "args",
    [
        ["up", "--kafka-port", "abc"],
        ["up", "--partitions", "0"],
        ["status", "--name", "a/b"],
        ["down", "--redis-port", "99999"],
    ],
)
def test_bad_input_ends_in_one_line_and_a_non_zero_exit(args):
    result = run_cli(*args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert result.output.startswith("impulse-stream infra: ")


def test_status_of_a_stopped_stack_says_down_and_exits_3(tmp_path):
    result = run_cli(
        "status",
        "--name", "unit",
        "--kafka-port", str(free_port()),
        "--redis-port", str(free_port()),
        IMPULSE_STREAM_DATA_DIR=str(tmp_path),
    )  # fmt: skip
    assert result.exit_code == 3, result.output
    lines = result.output.splitlines()
    assert [line.split()[:2] for line in lines] == [["kafka", "down"], ["redis", "down"]]


def test_down_of_a_stopped_stack_is_fine(tmp_path):
    result = run_cli("down", "--name", "unit", IMPULSE_STREAM_DATA_DIR=str(tmp_path))
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "nothing was running"


async def test_a_blocking_admin_call_works_inside_a_running_event_loop():
    assert run_blocking(lambda: asyncio.sleep(0, result=7)) == 7
