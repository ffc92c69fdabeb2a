"""Build of impulse-stream: the decision core compiled with mypyc, like black's wheels.

The pure-Python modules in ``src/impulse_stream/core`` stay the source of
truth (and run as they are in a checkout without a build); the build turns
every core module into a C extension except the ones listed under
``[tool.impulse-stream.mypyc] interpreted`` in pyproject.toml, with the
reason there. It needs a C compiler and the Python headers (``make
system-deps`` installs gcc from Debian when missing).
``IMPULSE_STREAM_INTERPRETED=1`` builds the package without compiling
anything; nothing else does.
"""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
import tomllib
from pathlib import Path

from setuptools import setup

ROOT = Path(__file__).resolve().parent
CORE = Path("src") / "impulse_stream" / "core"


def compiled_core() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    interpreted = set(config["tool"]["impulse-stream"]["mypyc"]["interpreted"])
    sources = sorted(p.relative_to(ROOT / "src").as_posix() for p in (ROOT / CORE).rglob("*.py"))
    modules = [s.removesuffix(".py").replace("/", ".").removesuffix(".__init__") for s in sources]
    unknown = interpreted - set(modules)
    if unknown:
        sys.exit(f"[tool.impulse-stream.mypyc] interpreted names no module: {sorted(unknown)}")
    return [
        str(CORE.parent.parent / source)
        for source, module in zip(sources, modules, strict=True)
        if module not in interpreted and not source.endswith("__init__.py")
    ]


def ext_modules() -> list[object]:
    if os.environ.get("IMPULSE_STREAM_INTERPRETED") == "1":
        print(
            "impulse-stream: IMPULSE_STREAM_INTERPRETED=1, building the core interpreted "
            "(the core runs about 1.7x slower; unset it to compile the core with mypyc)",
            file=sys.stderr,
        )
        return []
    compiler = (sysconfig.get_config_var("CC") or "gcc").split()[0]
    if shutil.which(compiler) is None:
        sys.exit(
            f"impulse-stream: no C compiler ({compiler}) to compile the decision core with "
            "mypyc; install gcc (make system-deps does) or set IMPULSE_STREAM_INTERPRETED=1 "
            "to build it interpreted"
        )
    from mypyc.build import mypycify

    return list(mypycify(compiled_core(), opt_level="3", separate=False))


setup(ext_modules=ext_modules())
