"""The core runs compiled (mypyc, setup.py) and behaves exactly as its Python sources.

``make venv`` builds the package with the core modules compiled in place;
these tests fail on a venv built with ``IMPULSE_STREAM_INTERPRETED=1`` or
with sources newer than their build (``make venv`` rebuilds it).
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

from bench import builds
from bench.codec import format3_encode_state, zlib_encode_state
from bench.reference import fingerprint

EVENTS = 3000


def test_every_core_module_but_the_msgspec_ones_is_a_compiled_extension() -> None:
    interpreted = builds.interpreted_by_design()
    modules = builds.core_modules()
    assert interpreted < set(modules)
    assert "impulse_stream.core.state" in interpreted  # msgspec Structs stay Python
    not_compiled = [m for m in modules if m not in interpreted and not builds.is_compiled(m)]
    assert not_compiled == [], "run `make venv`: the core is not compiled in this venv"
    assert not any(builds.is_compiled(m) for m in interpreted)
    assert len(modules) - len(interpreted) >= 40


def test_no_core_source_is_newer_than_its_compiled_module() -> None:
    stale = []
    for module in builds.core_modules():
        loaded = importlib.import_module(module)
        if builds.is_compiled(module):
            source = builds.SRC / (module.replace(".", "/") + ".py")
            if source.stat().st_mtime > Path(loaded.__file__ or "").stat().st_mtime:
                stale.append(module)
    assert stale == [], "run `make venv` to rebuild the compiled core"


def test_the_interpreted_tree_runs_the_core_from_its_sources(tmp_path: Path) -> None:
    tree = builds.interpreted_tree(tmp_path)
    code = "from bench import builds; print(sum(map(builds.is_compiled, builds.core_modules())))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=builds.environment("interpreted", tree),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "0"


def test_both_builds_and_both_state_codecs_give_identical_outputs_and_states(
    tmp_path: Path,
) -> None:
    compiled = fingerprint(EVENTS)
    with_zlib = fingerprint(EVENTS, encode=zlib_encode_state)
    with_format_3 = fingerprint(EVENTS, encode=format3_encode_state)
    code = f"from bench.reference import fingerprint; print(fingerprint({EVENTS}))"
    interpreted = subprocess.run(
        [sys.executable, "-c", code],
        env=builds.environment("interpreted", builds.interpreted_tree(tmp_path)),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert len(compiled) == 64
    assert compiled == with_zlib == with_format_3 == interpreted
    assert fingerprint(EVENTS, seed=8) != compiled  # the hash sees a different workload
