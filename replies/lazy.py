"""A module bound by name now and loaded when first used: for the libraries (PyYAML) that only the work
itself needs, so that a module which also declares things every command reads (the codebook loader) is cheap
to import."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


def module(name: str) -> ModuleType:
    """The module `name`, loaded at the first attribute read (the standard library's LazyLoader); the module
    itself where it is already loaded. A missing module fails here, at once, not at first use."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    found = importlib.util.module_from_spec(spec)
    sys.modules[name] = found
    loader.exec_module(found)
    return found
