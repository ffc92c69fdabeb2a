"""core/ is a pure library: no I/O library, no clock, no randomness."""

from __future__ import annotations

import ast
from pathlib import Path

import impulse_stream.core

CORE = Path(impulse_stream.core.__file__).resolve().parent

FORBIDDEN_MODULES = {
    "faust",
    "aiokafka",
    "kafka",
    "redis",
    "asyncio",
    "socket",
    "ssl",
    "http",
    "urllib",
    "requests",
    "httpx",
    "aiohttp",
    "os",
    "pathlib",
    "io",
    "shutil",
    "subprocess",
    "sqlite3",
    "threading",
    "multiprocessing",
    "time",
    "random",
    "uuid",
    "secrets",
    "yaml",
    "logging",
    "structlog",
    "prometheus_client",
    "builtins",
}
FORBIDDEN_CALLS = {
    "open",
    "print",
    "input",
    "hash",
    "now",
    "utcnow",
    "today",
    "time",
    "time_ns",
    "monotonic",
    "perf_counter",
    "getenv",
    "uuid4",
    "random",
    "eval",
    "exec",
}


def _sources() -> list[Path]:
    files = sorted(CORE.rglob("*.py"))
    assert len(files) > 20
    return files


def _violations(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            names = []
        for name in names:
            if name.split(".")[0] in FORBIDDEN_MODULES:
                found.append(f"{path.name}:{node.lineno} imports {name}")
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in FORBIDDEN_CALLS:
                found.append(f"{path.name}:{node.lineno} calls {name}()")
    return found


def test_core_imports_no_io_library_and_reads_no_clock() -> None:
    problems = [v for path in _sources() for v in _violations(path)]
    assert problems == []


def test_the_scan_catches_a_forbidden_import_and_a_clock_read(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import redis\nfrom datetime import datetime\nx = datetime.now()\ny = hash('a')\n"
    )
    assert len(_violations(bad)) == 3
