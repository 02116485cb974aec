"""Analysis steps by registered name: how an analyzer is stored with an index, as data.

An index stores its analyzer as JSON: the form, and each step's registered name with
its parameters (word lists, a mode). Opening the index builds the chain again from the
steps registered in this process, so an index directory never brings code of its own:
the built-in steps are registered here, a user's step with ``register_step`` before an
index that names it is opened (one naming an unregistered step fails with
``AnalyzerError`` saying which). A step's parameters are its ``params()``: by default
a dataclass step's fields (sets as sorted lists), none for other steps; it is built
again as ``from_params(params)``, by default ``cls(**params)``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

from searchlib.analysis.steps import (
    Colloquial,
    CompoundParts,
    Normalize,
    Stem,
    StemGuard,
    Step,
    Stopwords,
)
from searchlib.errors import AnalyzerError

__all__ = ["register_step", "registered_steps", "step_from_data", "step_to_data"]

S = TypeVar("S", bound=type[Step])

_REGISTRY: dict[str, type[Step]] = {}


def register_step(cls: S) -> S:
    """Register a ``Step`` subclass under its ``name`` (usable as a decorator), so an
    index whose analyzer names it can be opened in this process."""
    if not (isinstance(cls, type) and issubclass(cls, Step)):
        raise AnalyzerError(f"not an analysis step class: {cls!r}")
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        raise AnalyzerError(f"step class {cls.__name__} has no name")
    known = _REGISTRY.get(name)
    if known is not None and known is not cls and known.__qualname__ != cls.__qualname__:
        raise AnalyzerError(f"a step named {name!r} is registered already ({known.__name__})")
    _REGISTRY[name] = cls
    return cls


def registered_steps() -> dict[str, type[Step]]:
    return dict(_REGISTRY)


def _plain(value: Any, where: str) -> Any:
    """``value`` as JSON data (sets become sorted lists)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (set, frozenset)):
        return sorted(_plain(v, where) for v in value)
    if isinstance(value, (list, tuple)):
        return [_plain(v, where) for v in value]
    if isinstance(value, Mapping):
        if not all(isinstance(k, str) for k in value):
            raise AnalyzerError(f"{where}: a mapping with keys that are not strings")
        return {k: _plain(v, where) for k, v in value.items()}
    raise AnalyzerError(f"{where}: {type(value).__name__} values cannot be stored with an index")


def step_params(step: Step) -> dict[str, Any]:
    custom = getattr(step, "params", None)
    if callable(custom):
        params = custom()
    elif dataclasses.is_dataclass(step):
        params = {f.name: getattr(step, f.name) for f in dataclasses.fields(step) if f.init}
    else:
        params = {}
    return _plain(params, f"step {step.name!r}")


def step_to_data(step: Step) -> dict[str, Any]:
    """``step`` as data; its class must be registered."""
    name = step.name
    if _REGISTRY.get(name) is not type(step):
        raise AnalyzerError(
            f"step {name!r} ({type(step).__name__}) is not registered: call "
            "searchlib.analysis.register_step on its class before creating the index"
        )
    return {"step": name, "params": step_params(step)}


def step_from_data(data: Any) -> Step:
    """The step ``data`` (from ``step_to_data``) describes, built from this process's
    registered classes."""
    if not isinstance(data, Mapping) or not isinstance(data.get("step"), str):
        raise AnalyzerError(f"not a stored analysis step: {data!r:.80}")
    name = data["step"]
    params = data.get("params") or {}
    cls = _REGISTRY.get(name)
    if cls is None:
        raise AnalyzerError(
            f"the index's analyzer uses step {name!r}, which is not registered in this "
            f"process (registered: {', '.join(sorted(_REGISTRY))}); register it with "
            "searchlib.analysis.register_step before opening the index"
        )
    if not isinstance(params, Mapping):
        raise AnalyzerError(f"step {name!r}: parameters are not an object")
    try:
        builder = getattr(cls, "from_params", None)
        step = builder(dict(params)) if callable(builder) else cls(**params)
    except (TypeError, ValueError) as exc:
        raise AnalyzerError(
            f"step {name!r} cannot be built from its stored parameters: {exc}"
        ) from exc
    return step


for _builtin in (Normalize, Colloquial, Stopwords, StemGuard, Stem, CompoundParts):
    register_step(_builtin)
