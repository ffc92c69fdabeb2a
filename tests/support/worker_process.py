"""A real worker in its own process, as an SRE would run it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_replay(
    env: dict[str, str], name: str, *args: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """``impulse-stream replay --name <name> <args>`` to its end, output captured."""
    return subprocess.run(
        [sys.executable, "-m", "impulse_stream.cli", "replay", "--name", name, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class CliProcess:
    """An ``impulse-stream`` command in its own process, on a test's topics and Redis keys."""

    command: tuple[str, ...] = ()

    def __init__(
        self,
        kafka_bootstrap: str,
        redis_url: str,
        topic_prefix: str,
        redis_prefix: str,
        log_path: Path,
        **env: str,
    ) -> None:
        self.port = free_port()
        self.log_path = log_path
        self.env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "REDIS_URL": redis_url,
            "IMPULSE_STREAM_TOPIC_PREFIX": topic_prefix,
            "IMPULSE_STREAM_REDIS_PREFIX": redis_prefix,
            "IMPULSE_STREAM_APP_ID": f"{topic_prefix}impulse-stream",
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def spawn(self, *argv: str) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "impulse_stream.cli", *argv],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO,
            )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def get(self, path: str, timeout: float = 2.0) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self.url(path), timeout=timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


class WorkerProcess(CliProcess):
    """``impulse-stream worker`` with isolated topics, Redis keys and consumer group."""

    def __init__(
        self,
        kafka_bootstrap: str,
        redis_url: str,
        topic_prefix: str,
        redis_prefix: str,
        log_dir: Path,
        name: str = "w1",
        **env: str,
    ) -> None:
        self.name = name
        super().__init__(
            kafka_bootstrap,
            redis_url,
            topic_prefix,
            redis_prefix,
            log_dir / f"worker-{name}.log",
            **{
                "IMPULSE_STREAM_IDLE_ADVANCE_SECONDS": "0",
                "IMPULSE_STREAM_SESSION_TIMEOUT_MS": "6000",
                **env,
            },
        )
        if "IMPULSE_STREAM_WEB_PORT" not in env:
            self.env["IMPULSE_STREAM_WEB_PORT"] = str(self.port)

    def start(self) -> WorkerProcess:
        self.spawn("worker")
        return self

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"worker {self.name} exited: {self.log_tail()}")
            try:
                status, _ = self.get("/readyz", timeout=1.0)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"worker {self.name} not ready in {timeout}s: {self.log_tail()}")

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def kill(self) -> None:
        self.signal(signal.SIGKILL)
        self.wait()

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait: the graceful shutdown path."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.signal(signal.SIGTERM)
        return self.wait(timeout)

    def wait(self, timeout: float = 30.0) -> int:
        assert self.proc is not None
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"worker {self.name} did not stop in {timeout}s") from None

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None
