"""The names a formula may use, and the namespace the harness hands every formula.

Claims are written against Array API standard names (the 2023.12 spelling). What the notes
need beyond the standard -- relu, sigmoid, softmax, logsumexp -- is defined here once, from
standard ops, and used for any engine whose namespace lacks its own; the engine's own is used
where it has one, and the records say which definitions of ours an engine used.

`StandardNamespace(xp)` wraps whatever namespace an engine hands a formula: a name the engine
has comes from the engine; a name defined here comes from here, computed with the engine's
own standard ops (so its derivative is the engine's); any other name raises `MissingOp` at
the lookup, the one place where "this engine lacks an op" can be told from a typo inside the
engine.

>>> import numpy as np
>>> std(lambda xp, z: xp.relu(z))(np, np.array([-1.0, 2.0]))   # numpy has no relu
array([0., 2.])
"""
from __future__ import annotations

import functools
import threading

from .protocol import MissingOp


def relu(xp, z):
    return xp.maximum(z, 0.0)


def sigmoid(xp, z):
    return 1.0 / (1.0 + xp.exp(-z))


def softmax(xp, z, axis=-1):
    # softmax is shift-invariant, so subtracting the max changes neither value nor derivative
    e = xp.exp(z - xp.max(z, axis=axis, keepdims=True))
    return e / xp.sum(e, axis=axis, keepdims=True)


def logsumexp(xp, z, axis=None, keepdims=False):
    return xp.log(xp.sum(xp.exp(z), axis=axis, keepdims=keepdims))


# name -> definition(xp, *args, **kwargs) from standard names only
DEFINED = {"relu": relu, "sigmoid": sigmoid, "softmax": softmax, "logsumexp": logsumexp}


_used = threading.local()


def used() -> set:
    """The harness-defined names looked up since the last `reset_used()` (per thread)."""
    if not hasattr(_used, "names"):
        _used.names = set()
    return _used.names


def reset_used():
    used().clear()


class StandardNamespace:
    """An engine's namespace, completed with the harness's definitions (see the module)."""

    __slots__ = ("_base",)

    def __init__(self, base):
        object.__setattr__(self, "_base", base)

    def __getattr__(self, name):
        base = self._base
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return getattr(base, name)
        except AttributeError:
            pass
        if name in DEFINED:
            used().add(name)
            return functools.partial(DEFINED[name], self)
        raise MissingOp(f"the namespace {_label(base)} has no {name!r}")

    def __repr__(self):
        return f"<standard names over {_label(self._base)}>"


def _label(base):
    return getattr(base, "__name__", None) or repr(base)


def std(f):
    """`f(xp, *arrays)` made to see its namespace through `StandardNamespace`."""
    if getattr(f, "_ad_std", False):
        return f

    def g(xp, *arrays):
        return f(xp if isinstance(xp, StandardNamespace) else StandardNamespace(xp), *arrays)
    g._ad_std = True
    g.__wrapped__ = f
    return g


class RecordingNamespace:
    """A namespace that records every name looked up in it (`names`), then hands the lookup
    to `base`; a name `base` lacks is recorded too, before the AttributeError."""

    def __init__(self, base):
        self._base, self.names = base, set()

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        self.names.add(name)
        return getattr(self._base, name)


def names_looked_up(calls, base=None) -> tuple[list, list]:
    """The names the formulas of `calls` (pairs `(f, arrays)`, f(xp, *arrays)) look up in the
    namespace they are handed: (required, optional). Required are standard names an engine's
    `xp` must provide, including those the harness's own definitions use; optional are the
    names defined here that an engine may provide itself (relu, ...)."""
    import numpy as np
    rec = RecordingNamespace(np if base is None else base)
    ns = StandardNamespace(rec)
    for f, arrays in calls:
        f = getattr(f, "__wrapped__", f) if getattr(f, "_ad_std", False) else f
        f(ns, *arrays)
    optional = sorted(n for n in rec.names if n in DEFINED)
    return sorted(rec.names - set(optional)), optional


def catalogue_names(claims=None) -> tuple[list, list]:
    """`names_looked_up` over every claim of the catalogue, each at its first drawn input
    (`python -m oracles.namespace` prints them)."""
    from .claims import load_catalogue
    from .harness import draw_inputs
    claims = load_catalogue() if claims is None else claims
    calls = [(c.f, draw_inputs(c, 1)[0]) for c in claims if c.f is not None]
    return names_looked_up(calls)


if __name__ == "__main__":
    required, optional = catalogue_names()
    print("required:", ", ".join(required))
    print("optional:", ", ".join(optional))
