"""Detached server processes: spawn, recognise by pid file, stop, tail their logs.

A server runs in its own session (so a Ctrl-C in the terminal that started it
does not reach it, and it outlives ``impulse-stream infra up``) and is known by
a pid file. Before signalling a pid we check that its command line still names
our server, so a stale pid file never leads to killing an unrelated process.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from impulse_stream.errors import ServerStartError


def spawn_detached(argv: Sequence[str], log_path: Path, env: dict[str, str] | None = None) -> int:
    """Start ``argv`` in a new session with stdout and stderr appended to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log, open(os.devnull, "rb") as devnull:
        actions = [
            (os.POSIX_SPAWN_DUP2, devnull.fileno(), 0),
            (os.POSIX_SPAWN_DUP2, log.fileno(), 1),
            (os.POSIX_SPAWN_DUP2, log.fileno(), 2),
        ]
        environ = os.environ if env is None else env
        return os.posix_spawn(argv[0], list(argv), environ, file_actions=actions, setsid=True)


def is_running(pid: int) -> bool:
    """True while ``pid`` runs; reaps it when it is our own child that has exited."""
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    tasks = Path(f"/proc/{pid}/task")
    if not tasks.is_dir():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    # A zombie is dead (its parent, maybe an init that never reaps, just has not collected
    # it), but only once every thread is: after SIGKILL the main thread of redis or a JVM
    # turns zombie while other threads still hold the process's sockets and files.
    return any(_thread_state(task) not in ("Z", "X", None) for task in _listdir(tasks))


def _listdir(path: Path) -> list[Path]:
    try:
        return list(path.iterdir())
    except FileNotFoundError:
        return []


def _thread_state(task: Path) -> str | None:
    try:
        return (task / "stat").read_text().rsplit(")", 1)[-1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return None


def command_line(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace")


class PidFile:
    """The pid of one server, trusted only while its command line holds one of ``markers``."""

    def __init__(self, path: Path, *markers: str) -> None:
        self.path = path
        self.markers = markers

    def write(self, pid: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(f"{pid}\n")

    def pid(self) -> int | None:
        """The pid of our live server, or None (and the stale file is removed)."""
        try:
            pid = int(self.path.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        if is_running(pid) and any(m in command_line(pid) for m in self.markers):
            return pid
        self.path.unlink(missing_ok=True)
        return None


class LocalServer:
    """A server process of one stack, known by its pid file; stopped by signal."""

    pid_file: PidFile
    stop_timeout = 30.0  # seconds a clean stop may take before SIGKILL

    def pid(self) -> int | None:
        return self.pid_file.pid()

    def stop(self, *, hard: bool = False, timeout: float | None = None) -> bool:
        """SIGTERM (clean shutdown) or, when ``hard``, SIGKILL. False if it was not running."""
        pid = self.pid()
        if pid is None:
            return False
        stop_process(pid, hard=hard, timeout=self.stop_timeout if timeout is None else timeout)
        self.pid_file.path.unlink(missing_ok=True)
        return True


def stop_process(pid: int, *, hard: bool = False, timeout: float = 30.0) -> None:
    """SIGTERM (or SIGKILL when ``hard``) the process group of ``pid`` and wait for it to exit.

    Escalates to SIGKILL when SIGTERM has not ended it within ``timeout`` seconds.
    """
    _signal_group(pid, signal.SIGKILL if hard else signal.SIGTERM)
    if _wait_exit(pid, 10.0 if hard else timeout):
        return
    _signal_group(pid, signal.SIGKILL)
    _wait_exit(pid, 10.0)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def _wait_exit(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while is_running(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def wait_until_serving(
    pid: int,
    pid_file: Path,
    serving: Callable[[], bool],
    *,
    timeout: float,
    poll: float,
    failure: Callable[[str], str],
) -> None:
    """Return once ``serving()``; if the process exits or ``timeout`` passes first, stop it,
    forget its pid file and raise ``ServerStartError`` with ``failure(what happened)``."""
    deadline = time.monotonic() + timeout
    while not serving():
        if not is_running(pid):
            pid_file.unlink(missing_ok=True)
            raise ServerStartError(failure("exited during startup"))
        if time.monotonic() > deadline:
            stop_process(pid, hard=True)
            pid_file.unlink(missing_ok=True)
            raise ServerStartError(failure(f"did not serve within {timeout:.0f}s"))
        time.sleep(poll)


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def log_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def log_tail(path: Path, lines: int = 30, since: int = 0) -> str:
    """The last ``lines`` lines written after byte ``since``, indented; dumps of config
    values (tab-indented lines) are left out."""
    try:
        with path.open("rb") as f:
            end = f.seek(0, os.SEEK_END)
            start = since if since <= end else 0  # rolled over meanwhile
            f.seek(max(start, end - 64 * 1024))
            text = f.read().decode(errors="replace")
    except FileNotFoundError:
        return f"    ({path} does not exist)"
    kept = [line for line in text.splitlines() if line.strip() and not line.startswith("\t")]
    if not kept:
        return f"    ({path.name}: nothing new)"
    return "\n".join("    " + line for line in kept[-lines:])


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock held across processes (two ``up`` at once, or a test run and a user)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
