"""Read a catalogue YAML file, validate it and build the core's ``Catalogue``.

This is the file-I/O edge of the catalogue; ``core.catalogue`` stays pure. A
bad catalogue raises ``CatalogueError`` naming the file, the YAML line and the
JSON path of the offending field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from impulse_stream.core.catalogue import Catalogue, parse_catalogue
from impulse_stream.core.impulses.registry import DEFAULT_REGISTRY, Registry
from impulse_stream.core.impulses.schema import with_detectors
from impulse_stream.errors import CatalogueError, JsonPath

PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_CATALOGUE = PACKAGE_DIR / "catalogue" / "default.yaml"
SCHEMA_PATH = PACKAGE_DIR / "schemas" / "catalogue.schema.json"


@lru_cache(maxsize=1)
def catalogue_schema() -> Mapping[str, Any]:
    with SCHEMA_PATH.open(encoding="utf-8") as fh:
        schema: dict[str, Any] = json.load(fh)
    return schema


def schema_for(registry: Registry) -> Mapping[str, Any]:
    """The catalogue schema whose detector section allows exactly ``registry``'s detectors."""
    if registry is DEFAULT_REGISTRY:
        return catalogue_schema()
    return with_detectors(catalogue_schema(), registry)


def load_catalogue(
    path: str | Path | None = None, registry: Registry = DEFAULT_REGISTRY
) -> Catalogue:
    """Load and validate a catalogue; the package's ``default.yaml`` when ``path`` is None."""
    file = Path(path) if path is not None else DEFAULT_CATALOGUE
    text = file.read_text(encoding="utf-8")
    return parse_catalogue_text(text, str(file), registry)


def parse_catalogue_text(
    text: str, source: str, registry: Registry = DEFAULT_REGISTRY
) -> Catalogue:
    """Validate catalogue YAML text; errors carry the line of the offending field.

    ``registry`` names the detectors the catalogue may configure (the engine
    that runs it must use the same registry).
    """
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise CatalogueError(source, (), f"not valid YAML: {exc}", line) from exc
    try:
        return parse_catalogue(data, source, schema_for(registry))
    except CatalogueError as exc:
        raise exc.with_line(_line_of(node, exc.path)) from None


def _line_of(node: yaml.Node | None, path: JsonPath) -> int | None:
    """1-based line of the deepest YAML node that the JSON path reaches."""
    if node is None:
        return None
    line: int = node.start_mark.line + 1
    for part in path:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                    child = value
                    line = key.start_mark.line + 1
                    break
        elif (
            isinstance(node, yaml.SequenceNode)
            and isinstance(part, int)
            and 0 <= part < len(node.value)
        ):
            child = node.value[part]
        if child is None:
            return line
        node = child
        line = node.start_mark.line + 1 if not isinstance(node, yaml.ScalarNode) else line
    return line
