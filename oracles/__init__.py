"""The references behind one Engine protocol: ourad's two modes, JAX, PyTorch, finite
differences and a high-precision referee.

>>> import oracles
>>> oracles.available()          # {"jax": True, "torch": "torch: not installed", ...}
>>> oracles.engine("jax").jvp(lambda xp, x: xp.sin(x), [np.array(1.0)], [np.array(1.0)])
"""
from __future__ import annotations

import importlib

from .protocol import Engine, MissingOp, Unsupported

# Engine roles, as data: the default oracles, the reference's order of preference, the
# report's columns and the versions table are all derived from this table.
#   subject  -- ourad's own modes (the default subject)
#   referee  -- high precision; the reference where it can evaluate the claim
#   ad       -- AD oracles; the reference where they agree with each other, confirmed by...
#   numeric  -- finite differences, held to their own error estimate
ROLES = ("subject", "referee", "ad", "numeric")

# name -> (module, class, the package it needs, role)
_REGISTRY = {
    "ourad-forward": ("oracles.ourad_engines", "OuradForward", "ourad", "subject"),
    "ourad-reverse": ("oracles.ourad_engines", "OuradReverse", "ourad", "subject"),
    "jax": ("oracles.jax_engine", "JaxEngine", "jax", "ad"),
    "torch": ("oracles.torch_engine", "TorchEngine", "torch", "ad"),
    "fd": ("oracles.fd", "FiniteDifferences", "numpy", "numeric"),
    "referee": ("oracles.referee", "Referee", "mpmath", "referee"),
}
NAMES = tuple(_REGISTRY)
ORACLES = tuple(n for n, e in _REGISTRY.items() if e[3] != "subject")   # the default oracles
_cache: dict = {}


def packages() -> tuple:
    """The packages the registered engines need, in registry order (the run's versions
    table lists them)."""
    return tuple(dict.fromkeys(e[2] for e in _REGISTRY.values()))


def role(name: str) -> str:
    """The role of a registered engine ("subject", "referee", "ad", "numeric"); any other
    engine (a plugged-in one) is a subject."""
    entry = _REGISTRY.get(name)
    return entry[3] if entry else "subject"


def _load(name):
    if name not in _REGISTRY:
        raise KeyError(f"unknown engine {name!r}; known: {', '.join(NAMES)}")
    if name not in _cache:
        module, cls, package, _ = _REGISTRY[name]
        try:
            _cache[name] = getattr(importlib.import_module(module), cls)
        except ImportError as exc:
            missing = getattr(exc, "name", None) or package
            _cache[name] = f"{name}: {missing.split('.')[0]} not installed ({exc})"
    return _cache[name]


def available() -> dict:
    """Each engine's name, with True where it can run, else the reason it cannot."""
    return {n: (True if not isinstance(_load(n), str) else _load(n)) for n in NAMES}


def engine(name: str, **options) -> Engine:
    """A fresh engine by name; raises `Unsupported` with the reason if its package is missing."""
    cls = _load(name)
    if isinstance(cls, str):
        raise Unsupported(cls)
    return cls(**options)


__all__ = ["Engine", "Unsupported", "MissingOp", "available", "engine", "role", "packages",
           "NAMES",
           "ORACLES", "ROLES"]
