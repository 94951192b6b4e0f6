"""The references behind one Engine protocol: ourad's two modes, JAX, PyTorch, finite
differences and a high-precision referee.

>>> import oracles
>>> oracles.available()          # {"jax": True, "torch": "torch: not installed", ...}
>>> oracles.engine("jax").jvp(lambda xp, x: xp.sin(x), [np.array(1.0)], [np.array(1.0)])
"""
from __future__ import annotations

import importlib

from .protocol import Engine, MissingOp, Unsupported

# name -> (module, class, the package it needs)
_REGISTRY = {
    "ourad-forward": ("oracles.ourad_engines", "OuradForward", "ourad"),
    "ourad-reverse": ("oracles.ourad_engines", "OuradReverse", "ourad"),
    "jax": ("oracles.jax_engine", "JaxEngine", "jax"),
    "torch": ("oracles.torch_engine", "TorchEngine", "torch"),
    "fd": ("oracles.fd", "FiniteDifferences", "numpy"),
    "referee": ("oracles.referee", "Referee", "mpmath"),
}
NAMES = tuple(_REGISTRY)
_cache: dict = {}


def _load(name):
    if name not in _REGISTRY:
        raise KeyError(f"unknown engine {name!r}; known: {', '.join(NAMES)}")
    if name not in _cache:
        module, cls, package = _REGISTRY[name]
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


__all__ = ["Engine", "Unsupported", "MissingOp", "available", "engine", "NAMES"]
