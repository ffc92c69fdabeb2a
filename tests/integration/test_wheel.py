"""The package as a wheel: built from a clean copy, installed into a fresh venv.

Nothing of the checkout is on the fresh venv's path: the catalogue schema and
the default catalogue must come from the wheel itself. Building compiles the
core with mypyc (setup.py), so this takes a minute or two.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from impulse_stream.catalogue_loader import load_catalogue

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "support" / "worked_example_installed.py"

pytestmark = pytest.mark.integration


def _run(*args: str | Path, cwd: Path, timeout: float = 600) -> str:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    done = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, f"{args[:3]} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel built from a clean copy of the sources."""
    base = tmp_path_factory.mktemp("wheel")
    tree = base / "tree"
    tree.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md", "constraints.txt"):
        shutil.copy2(ROOT / name, tree / name)
    shutil.copytree(
        ROOT / "src",
        tree / "src",
        ignore=shutil.ignore_patterns("*.so", "__pycache__", "*.egg-info"),
    )
    wheels = base / "wheels"
    _run(
        sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
        "-c", tree / "constraints.txt", "-w", wheels, tree,
        cwd=base,
    )  # fmt: skip
    (wheel,) = wheels.glob("impulse_stream-*.whl")
    venv = base / "venv"
    _run(sys.executable, "-m", "venv", venv, cwd=base)
    _run(
        venv / "bin" / "python", "-m", "pip", "install", "-q",
        "-c", tree / "constraints.txt", wheel,
        cwd=base,
    )  # fmt: skip
    return venv


def test_the_installed_wheel_carries_the_schema_and_a_compiled_core(installed: Path) -> None:
    out = _run(
        installed / "bin" / "python",
        "-c",
        "import impulse_stream.catalogue_loader as c, impulse_stream.core.engine as e;"
        "print(c.SCHEMA_PATH); print(c.DEFAULT_CATALOGUE); print(e.__file__)",
        cwd=installed,
    )
    schema, catalogue, engine = out.splitlines()
    site = str(installed / "lib")
    assert schema.startswith(site) and Path(schema).is_file()
    assert catalogue.startswith(site) and Path(catalogue).is_file()
    assert engine.startswith(site) and engine.endswith(".so")


def test_the_installed_cli_validates_the_packaged_default_catalogue(installed: Path) -> None:
    out = _run(
        installed / "bin" / "python",
        "-c",
        "import impulse_stream.catalogue_loader as c; print(c.DEFAULT_CATALOGUE)",
        cwd=installed,
    )
    default = out.strip()
    out = _run(
        installed / "bin" / "impulse-stream", "catalogue", "validate", default, cwd=installed
    )
    version = load_catalogue().version
    assert out.strip() == f"{default}: valid, version {version}"


def test_the_installed_engine_runs_the_worked_example(installed: Path) -> None:
    out = _run(installed / "bin" / "python", SCRIPT, cwd=installed)
    assert json.loads(out) == {
        # the birthday (57 years and 10 days before the call) fires between two events at
        # its own time, as the worker's timer fires it
        "impulses": ["salary_increase", "retirement_approaching", "birthday", "order_abandoned"],
        "call_centre": [
            "finish_credit_card_order",
            "retirement_provision_check",
            "membership_offer",
        ],
        "abandoned_at_step": ["2"],
    }
