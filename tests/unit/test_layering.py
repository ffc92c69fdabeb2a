"""The import-linter contracts of pyproject.toml hold, and they catch a wrong import."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root / "src")}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _copy_with(tmp_path: Path, module: str, line: str) -> Path:
    """A copy of the sources and pyproject.toml with ``line`` appended to ``module``."""
    shutil.copy2(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(
        ROOT / "src", tmp_path / "src", ignore=shutil.ignore_patterns("*.so", "__pycache__")
    )
    path = tmp_path / "src" / (module.replace(".", "/") + ".py")
    path.write_text(path.read_text(encoding="utf-8") + line + "\n", encoding="utf-8")
    return tmp_path


def test_the_package_keeps_every_layering_contract() -> None:
    done = _lint_imports(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Contracts: 9 kept, 0 broken." in done.stdout


def test_a_core_module_importing_the_settings_breaks_the_core_contract(tmp_path: Path) -> None:
    root = _copy_with(tmp_path, "impulse_stream.core.ids", "import impulse_stream.settings")
    done = _lint_imports(root)
    assert done.returncode == 1
    assert "core is pure: nothing of the shell, no broker, store or clock I/O BROKEN" in done.stdout
    assert "impulse_stream.core.ids -> impulse_stream.settings" in done.stdout
    assert "Contracts: 8 kept, 1 broken." in done.stdout


def test_a_core_module_reading_the_clock_breaks_the_core_contract(tmp_path: Path) -> None:
    root = _copy_with(tmp_path, "impulse_stream.core.ids", "import time")
    done = _lint_imports(root)
    assert done.returncode == 1
    assert "impulse_stream.core is not allowed to import time" in done.stdout


def test_the_store_importing_the_topic_contract_breaks_the_store_contract(
    tmp_path: Path,
) -> None:
    root = _copy_with(tmp_path, "impulse_stream.store.base", "import impulse_stream.contract")
    done = _lint_imports(root)
    assert done.returncode == 1
    assert "store knows neither the topics nor the runtime BROKEN" in done.stdout


def test_the_exception_tree_importing_a_library_breaks_the_leaf_contract(tmp_path: Path) -> None:
    # core imports errors.py; were errors.py to import msgspec or the settings, core would too.
    root = _copy_with(tmp_path, "impulse_stream.errors", "import msgspec")
    done = _lint_imports(root)
    assert done.returncode == 1
    assert "errors is a leaf: it imports nothing of the package BROKEN" in done.stdout
    assert "impulse_stream.errors is not allowed to import msgspec" in done.stdout
