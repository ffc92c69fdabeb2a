"""Child processes of the benchmark: started in their own session, always stopped.

Every process the runner starts is registered here; :func:`stop_all` (called
from the runner's ``finally`` and on SIGTERM) ends any that still run, so a
failed or interrupted benchmark leaves no worker behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

_running: list[subprocess.Popen[bytes]] = []


def python_module(
    module: str,
    args: Sequence[str],
    env: Mapping[str, str],
    log: Path,
    *,
    checkout: Path | None = None,
) -> subprocess.Popen[bytes]:
    """``python -m module args`` with stdout and stderr in ``log``; ``checkout``: another
    checkout of the repository, run with its own venv (``make venv`` there) and sources."""
    log.parent.mkdir(parents=True, exist_ok=True)
    python = str(checkout / ".venv" / "bin" / "python") if checkout else sys.executable
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [python, "-m", module, *args],
            env=dict(env),
            cwd=checkout or REPO,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _running.append(proc)
    return proc


def stop(proc: subprocess.Popen[bytes], timeout: float = 30.0) -> int:
    """SIGTERM (a graceful Faust shutdown), SIGKILL after ``timeout``; returns the exit code."""
    if proc.poll() is None:
        _signal(proc, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            _signal(proc, signal.SIGKILL)
            proc.wait(10)
    with contextlib.suppress(ValueError):
        _running.remove(proc)
    return proc.returncode


def stop_all() -> None:
    for proc in list(_running):
        stop(proc, timeout=10.0)


def _signal(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def log_tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return "    (no log)"
    return "\n".join("    " + line for line in text)


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False
