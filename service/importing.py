"""Import a class named by a dotted path in configuration."""
from importlib import import_module
from typing import Any


def import_string(dotted_path: str, setting: str) -> Any:
    module_path, _, attribute = dotted_path.rpartition(".")
    if not module_path:
        raise ValueError(f"{setting} must be a dotted path such as package.module.Class")
    try:
        module = import_module(module_path)
    except ImportError as exc:
        raise ValueError(f"{setting}: cannot import module {module_path!r} ({exc})") from None
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise ValueError(f"{setting}: module {module_path!r} has no {attribute!r}") from None
