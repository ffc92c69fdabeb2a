"""The native prototype's tests need its extension: built here when the venv lacks it.

``make native`` (cargo and maturin, from the committed Cargo.lock) builds it into
the venv; without cargo it exits 2 with a one-line message and these tests fail
with it. From a clean cargo target directory the build takes about a minute and a
half on the bench machine (docs/bench.md, "The native batch call").
"""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session", autouse=True)
def native_extension() -> None:
    if importlib.util.find_spec("impulse_native") is None:
        done = subprocess.run(["make", "native"], cwd=ROOT, capture_output=True, text=True)
        if done.returncode != 0:
            pytest.fail(f"make native failed ({done.returncode}): {done.stdout}{done.stderr}")
        importlib.invalidate_caches()
