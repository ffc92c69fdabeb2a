"""The native prototype's tests run against a build of the current sources.

``make native`` (cargo and maturin, from the committed Cargo.lock) builds the
extension into the venv; this fixture runs it when the venv has no build or one
older than a source of the crate, so that the tests never pass against a stale
build. Without cargo ``make native`` exits 2 with a one-line message and these
tests fail with it. From a clean cargo target directory the build took 3 min
31 s on the bench machine at a load of 5.5, an incremental one about 50 s
(docs/bench.md, "The native batch call").
"""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CRATE = ROOT / "bench" / "prototypes" / "native"


def _built_at() -> float | None:
    spec = importlib.util.find_spec("impulse_native")
    if spec is None or spec.origin is None:
        return None
    built = list(Path(spec.origin).parent.glob("*.so"))
    return max((p.stat().st_mtime for p in built), default=None)


def _sources_at() -> float:
    sources = [*CRATE.glob("src/**/*.rs"), CRATE / "Cargo.toml", CRATE / "Cargo.lock"]
    return max(p.stat().st_mtime for p in sources)


@pytest.fixture(scope="session", autouse=True)
def native_extension() -> None:
    built = _built_at()
    if built is None or built < _sources_at():
        done = subprocess.run(["make", "native"], cwd=ROOT, capture_output=True, text=True)
        if done.returncode != 0:
            pytest.fail(f"make native failed ({done.returncode}): {done.stdout}{done.stderr}")
        importlib.invalidate_caches()
