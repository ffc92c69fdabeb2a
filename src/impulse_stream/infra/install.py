"""Installs what the local servers run on: the Kafka jars (Maven Central) and redis-server (Debian).

Both steps are idempotent and cheap when already done, so every ``up`` calls them.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

from impulse_stream.errors import InfraError, ToolMissingError
from impulse_stream.infra.processes import file_lock, log_tail
from impulse_stream.infra.settings import StackSettings

_MARKER = "resolved.sha256"


def kafka_version(pom: Path) -> str:
    """The broker version the pom pins (``<kafka.version>``)."""
    try:
        text = pom.read_text()
    except FileNotFoundError:
        raise InfraError(
            f"{pom} not found: run from an impulse-stream checkout or set IMPULSE_STREAM_KAFKA_POM"
        ) from None
    match = re.search(r"<kafka\.version>\s*([^<\s]+)\s*</kafka\.version>", text)
    if not match:
        raise InfraError(f"{pom} does not set <kafka.version>")
    return match.group(1)


def kafka_home(settings: StackSettings) -> Path:
    """``<cache>/kafka-<version>``; the jars are in its ``libs/``."""
    return settings.cache_dir / f"kafka-{kafka_version(settings.kafka_pom)}"


def java_binary() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and os.access(Path(java_home, "bin", "java"), os.X_OK):
        return str(Path(java_home, "bin", "java"))
    java = shutil.which("java")
    if not java:
        raise ToolMissingError(
            "java not found: install Java 17 (apt-get install openjdk-17-jre-headless, "
            "or `make system-deps`)"
        )
    return java


def ensure_kafka_jars(settings: StackSettings) -> Path:
    """The ``libs`` directory with the broker and its runtime dependencies, fetched once.

    Maven resolves ``infra/kafka/pom.xml`` into a fresh directory that replaces
    ``libs`` only when complete; a marker holds the pom's hash, so editing the pom
    fetches again and an interrupted download is retried.
    """
    home = kafka_home(settings)
    libs = home / "libs"
    pom_hash = hashlib.sha256(settings.kafka_pom.read_bytes()).hexdigest()
    marker = home / _MARKER
    if _resolved(marker, pom_hash, libs):
        return libs
    with file_lock(home.parent / f".{home.name}.lock"):
        if _resolved(marker, pom_hash, libs):
            return libs
        java_binary()
        mvn = shutil.which("mvn")
        if not mvn:
            raise ToolMissingError(
                "mvn not found: install Maven (apt-get install maven, or `make system-deps`)"
            )
        home.mkdir(parents=True, exist_ok=True)
        staging = home / "libs.partial"
        shutil.rmtree(staging, ignore_errors=True)
        log = home / "mvn.log"
        with log.open("wb") as out:
            argv = [
                mvn, "-q", "-B", "-Dstyle.color=never", "-f", str(settings.kafka_pom),
                "dependency:copy-dependencies", "-DincludeScope=runtime",
                f"-DoutputDirectory={staging}",
            ]  # fmt: skip
            done = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                check=False,
            )
        if done.returncode != 0 or not any(staging.glob("kafka_*.jar")):
            raise InfraError(
                f"Maven could not fetch the Kafka jars (exit {done.returncode}); "
                f"is Maven Central reachable? Log {log}:\n{log_tail(log, 15)}"
            )
        shutil.rmtree(libs, ignore_errors=True)
        staging.rename(libs)
        marker.write_text(pom_hash + "\n")
    return libs


def _resolved(marker: Path, pom_hash: str, libs: Path) -> bool:
    try:
        return marker.read_text().strip() == pom_hash and libs.is_dir()
    except FileNotFoundError:
        return False


def redis_server_binary() -> str | None:
    return shutil.which("redis-server") or next(
        (p for p in ("/usr/bin/redis-server", "/usr/sbin/redis-server") if os.access(p, os.X_OK)),
        None,
    )


def ensure_redis_server(settings: StackSettings) -> str:
    """The path of ``redis-server``, installed from Debian with apt-get when missing.

    Debian's package may start its own service on 6379; we never use it (our
    server runs on its own port and directory), so it neither helps nor hurts.
    """
    found = redis_server_binary()
    if found:
        return found
    apt = shutil.which("apt-get")
    if not apt:
        raise ToolMissingError(
            "redis-server not found and apt-get is not available: install Redis 7 "
            "(redis-server on PATH) or point REDIS_URL at a running server"
        )
    settings.cache_dir.mkdir(parents=True, exist_ok=True)
    log = settings.cache_dir / "apt-redis.log"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    with file_lock(settings.cache_dir / ".apt.lock"), log.open("wb") as out:
        # Output goes to a file, not a pipe: a service the package starts could
        # inherit the pipe and keep us waiting for an EOF that never comes.
        steps = [
            [apt, "update", "-q"],
            [apt, "install", "-y", "-q", "--no-install-recommends",
             "-o", "Dpkg::Options::=--force-confold", "redis-server"],
        ]  # fmt: skip
        for argv in steps:
            done = subprocess.run(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env
            )
            if done.returncode != 0:
                break
    found = redis_server_binary()
    if not found:
        hint = "" if os.geteuid() == 0 else " (apt-get needs root: run as root or with sudo)"
        raise ToolMissingError(
            f"could not install redis-server with apt-get{hint}; log {log}:\n{log_tail(log, 15)}"
        )
    return found
