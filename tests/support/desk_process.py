"""``impulse-stream desk`` in its own process, beside a test's worker."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

from tests.support.worker_process import CliProcess


class DeskProcess(CliProcess):
    def __init__(
        self,
        kafka_bootstrap: str,
        redis_url: str,
        topic_prefix: str,
        redis_prefix: str,
        log_dir: Path,
    ) -> None:
        log = log_dir / "desk.log"
        super().__init__(kafka_bootstrap, redis_url, topic_prefix, redis_prefix, log)

    def start(self, timeout: float = 60.0) -> DeskProcess:
        self.spawn("desk", "--port", str(self.port))
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"the desk exited: {self.log_tail()}")
            try:
                if self.get("/healthz")[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"the desk did not answer in {timeout}s: {self.log_tail()}")

    def get(self, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
        return super().get(path, timeout)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
