"""Regenerate the detector section of ``schemas/catalogue.schema.json``.

The section comes from the detector registry (``core/impulses/registry.py``):
one entry per registered kind, each the shared envelope ``$defs/detector``
plus the JSON Schema of the detector's declared ``params``. The rest of the
file (actions, bundles, policy, ...) is kept as it is. Run it after adding a
detector or changing its parameters; ``--check`` exits 1 when the committed
file differs (a unit test does the same).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from impulse_stream.core.impulses.registry import DEFAULT_REGISTRY
from impulse_stream.core.impulses.schema import with_detectors

SCHEMA = Path(__file__).resolve().parents[1] / "schemas" / "catalogue.schema.json"


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def generated(path: Path = SCHEMA) -> str:
    committed = json.loads(path.read_text(encoding="utf-8"))
    return render(with_detectors(committed, DEFAULT_REGISTRY))


def main(argv: list[str] | None = None, path: Path = SCHEMA) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the file is stale")
    args = parser.parse_args(argv)
    text = generated(path)
    if args.check:
        if path.read_text(encoding="utf-8") != text:
            print(f"{path.name} is stale: run python scripts/gen_catalogue_schema.py")
            return 1
        return 0
    path.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
