"""One exception tree: every exception class of the package is defined in errors.py,
under ``ImpulseStreamError``, and drawn in that module's docstring."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import types

import impulse_stream
from impulse_stream import errors
from impulse_stream.errors import ImpulseStreamError

# Private control flow: caught in the function that raises them, never met by a user.
PRIVATE_CONTROL_FLOW = {
    "impulse_stream.startup.NotYet",  # one failed probe; the wait tries again
    "impulse_stream.desk.server.BadRequest",  # becomes the desk's 400 answer
}
# The root at the margin, every other class after a branch: "│   ├── ``Name``".
_NODE = re.compile(r"^(?P<indent>(?:[ │]*[├└]── )?)``(?P<name>\w+)``")


def _modules() -> list[types.ModuleType]:
    names = [
        m.name
        for m in pkgutil.walk_packages(impulse_stream.__path__, prefix="impulse_stream.")
        if not m.name.startswith("impulse_stream.core.state_dictionary")
    ]
    return [importlib.import_module(name) for name in names]


def _exception_classes(module: types.ModuleType) -> list[type[BaseException]]:
    return [
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj)
        and issubclass(obj, BaseException)
        and obj.__module__ == module.__name__
    ]


def _outside_the_tree(modules: list[types.ModuleType]) -> list[str]:
    found = []
    for module in modules:
        for cls in _exception_classes(module):
            name = f"{cls.__module__}.{cls.__qualname__}"
            if name in PRIVATE_CONTROL_FLOW:
                continue
            if module.__name__ != errors.__name__ or not issubclass(cls, ImpulseStreamError):
                found.append(name)
    return found


def test_every_exception_class_of_the_package_is_in_the_tree_of_errors_py() -> None:
    modules = _modules()
    assert len(modules) > 60
    assert _outside_the_tree(modules) == []


def test_the_walk_reports_an_exception_class_defined_outside_errors_py() -> None:
    stray = types.ModuleType("impulse_stream.streaming.stray")
    vars(stray)["DrainFailed"] = type("DrainFailed", (Exception,), {"__module__": stray.__name__})
    assert _outside_the_tree([stray]) == ["impulse_stream.streaming.stray.DrainFailed"]
    # Defined in errors.py but not under the root: outside the tree too.
    rootless = types.ModuleType(errors.__name__)
    vars(rootless)["Orphan"] = type("Orphan", (ValueError,), {"__module__": errors.__name__})
    assert _outside_the_tree([rootless]) == ["impulse_stream.errors.Orphan"]


def _drawn_tree() -> dict[str, str | None]:
    """Each class the docstring draws -> the class drawn as its parent."""
    assert errors.__doc__ is not None
    parents: dict[str, str | None] = {}
    stack: list[tuple[int, str]] = []
    for line in errors.__doc__.splitlines():
        match = _NODE.match(line)
        if not match:
            continue
        depth = len(match["indent"])
        while stack and stack[-1][0] >= depth:
            stack.pop()
        parents[match["name"]] = stack[-1][1] if stack else None
        stack.append((depth, match["name"]))
    return parents


def test_the_docstring_of_errors_py_draws_every_class_under_its_real_parent() -> None:
    drawn = _drawn_tree()
    defined = {cls.__name__: cls for cls in _exception_classes(errors)}
    assert set(drawn) == set(defined)
    assert drawn["ImpulseStreamError"] is None
    for name, parent in drawn.items():
        if parent is not None:
            in_the_package = [b for b in defined[name].__bases__ if b.__module__ == errors.__name__]
            assert [b.__name__ for b in in_the_package] == [parent], name


def test_the_errors_a_caller_catches_as_value_errors_still_are() -> None:
    for cls in (
        errors.CatalogueError,
        errors.StateDecodeError,
        errors.DeadLetterHeaderError,
        errors.DecodeFailure,
    ):
        assert issubclass(cls, ValueError), cls
