"""`ourad.xp`: the array namespace formulas compute with, under Array-API names.

Every differentiable function here binds a primitive of the rule table (`ourad.rules.RULES`);
the rest (constructors, comparisons, dtypes) works on plain NumPy values and gives plain
results. Comparisons give plain boolean arrays, as the harness needs for masks.

>>> from ourad import xp
>>> xp.sum(xp.sin(x) * 2.0)
"""
from __future__ import annotations

import math
from functools import partial

import numpy as np

from . import core
from .core import Tracer, bind, primal_of
from .rules import RULES, axes_of

# Every primitive of the table with positional inputs only becomes `xp.<name>` as-is.
_POSITIONAL = ("add", "subtract", "multiply", "divide", "negative", "pow", "sin", "cos", "exp",
               "log", "log1p", "tanh", "sigmoid", "sqrt", "sign", "abs", "relu", "maximum",
               "minimum", "where", "matmul")
for _name in _POSITIONAL:
    globals()[_name] = partial(bind, RULES[_name])
    globals()[_name].__doc__ = f"ourad primitive '{_name}' (see ourad.rules)."

power = pow  # Array API spells it pow; NumPy, power


def sum(x, axis=None, keepdims=False):
    """Sum over `axis` (all axes when None)."""
    return bind(RULES["sum"], x, axis=_norm_axis(axis), keepdims=keepdims)


def max(x, axis=None, keepdims=False):
    """Largest entry over `axis`; at ties the derivative is shared equally."""
    return bind(RULES["max"], x, axis=_norm_axis(axis), keepdims=keepdims)


def min(x, axis=None, keepdims=False):
    """Smallest entry over `axis`, as -max(-x)."""
    return negative(max(negative(x), axis=axis, keepdims=keepdims))


def mean(x, axis=None, keepdims=False):
    """Arithmetic mean over `axis` (all axes when None)."""
    axis = _norm_axis(axis)
    shape = np.shape(primal_of(x))
    count = math.prod(shape[a] for a in axes_of(axis, len(shape)))
    return divide(sum(x, axis=axis, keepdims=keepdims), float(count))


def _norm_axis(axis):
    if axis is None or isinstance(axis, int):
        return axis
    return tuple(axis)


def reshape(x, shape):
    """Reshape; one entry of `shape` may be -1."""
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    if -1 in shape:
        shape = np.empty(np.shape(primal_of(x)), dtype=bool).reshape(shape).shape
    return bind(RULES["reshape"], x, shape=shape)


def broadcast_to(x, shape):
    return bind(RULES["broadcast_to"], x, shape=tuple(shape))


def permute_dims(x, axes):
    return bind(RULES["permute_dims"], x, axes=tuple(axes))


def matrix_transpose(x):
    """Swap the last two axes."""
    n = np.ndim(primal_of(x))
    if n < 2:
        raise ValueError(f"matrix_transpose needs at least 2 dimensions, got {n}")
    return permute_dims(x, tuple(range(n - 2)) + (n - 1, n - 2))


def expand_dims(x, axis=0):
    shape = list(np.shape(primal_of(x)))
    shape.insert(axis if axis >= 0 else len(shape) + axis + 1, 1)
    return reshape(x, tuple(shape))


def squeeze(x, axis):
    shape = list(np.shape(primal_of(x)))
    del shape[axis]
    return reshape(x, tuple(shape))


def getitem(x, idx):
    """x[idx]; the reverse rule scatter-adds, so repeated indices accumulate."""
    return bind(RULES["getitem"], x, idx=idx)


def scatter_add(g, idx, shape):
    return bind(RULES["scatter_add"], g, idx=idx, shape=tuple(shape))


def concatenate(arrays, axis=0):
    return bind(RULES["concatenate"], *arrays, axis=axis)


def stack(arrays, axis=0):
    return concatenate([expand_dims(a, axis) for a in arrays], axis=axis)


def square(x):
    return multiply(x, x)


def logsumexp(x, axis=None, keepdims=False):
    """log(sum(exp(x))) shifted by the (constant) max for range safety."""
    axis = _norm_axis(axis)
    c = np.max(primal_of(x), axis=axis, keepdims=True)
    c = np.where(np.isfinite(c), c, 0.0)
    s = log(sum(exp(subtract(x, c)), axis=axis, keepdims=True))
    out = add(s, c)
    return out if keepdims else reshape(out, np.shape(np.sum(primal_of(x), axis=axis)))


def softmax(x, axis=-1):
    """exp(x) / sum(exp(x)) along `axis`."""
    return exp(subtract(x, logsumexp(x, axis=axis, keepdims=True)))


def stop_gradient(x):
    """The value of x as a constant to every transform: a copy of it, never the buffer of
    the caller's input (nor of an intermediate a reverse pass still needs)."""
    p = primal_of(x)
    return p.copy() if isinstance(p, np.ndarray) else p


# --- constructors and plain (non-differentiable) helpers ---------------------------------------

float32, float64 = np.float32, np.float64
pi, e, inf, nan = np.pi, np.e, np.inf, np.nan


def asarray(x, dtype=None):
    """A tracer is returned as it is; anything else becomes a NumPy array."""
    if isinstance(x, Tracer):
        return x
    return np.asarray(x, dtype=dtype)


def zeros(shape, dtype=np.float64):
    return np.zeros(shape, dtype=dtype)


def ones(shape, dtype=np.float64):
    return np.ones(shape, dtype=dtype)


def full(shape, fill_value, dtype=np.float64):
    return np.full(shape, fill_value, dtype=dtype)


def zeros_like(x, dtype=None):
    p = primal_of(x)
    return np.zeros(np.shape(p), dtype=dtype or np.result_type(p))


def ones_like(x, dtype=None):
    p = primal_of(x)
    return np.ones(np.shape(p), dtype=dtype or np.result_type(p))


def eye(n, m=None, dtype=np.float64):
    return np.eye(n, m, dtype=dtype)


def arange(*args, dtype=None):
    return np.arange(*args, dtype=dtype)


def linspace(start, stop, num, dtype=None):
    return np.linspace(start, stop, num, dtype=dtype)


def _plain(fn):
    return lambda *args: fn(*(primal_of(a) for a in args))


less, less_equal = _plain(np.less), _plain(np.less_equal)
greater, greater_equal = _plain(np.greater), _plain(np.greater_equal)
equal, not_equal = _plain(np.equal), _plain(np.not_equal)
isfinite, isnan = _plain(np.isfinite), _plain(np.isnan)
logical_and, logical_or, logical_not = (_plain(np.logical_and), _plain(np.logical_or),
                                        _plain(np.logical_not))


class MissingOp(NotImplementedError, AttributeError):
    """Raised for an op ourad lacks; an AttributeError too, so `hasattr` still works."""


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    raise MissingOp(f"ourad.xp has no op '{name}'")


# Python operators on tracers bind the primitives directly.
def _install_operators():
    def op(name, reflected=False):
        prim = RULES[name]   # looked up once, not at every call
        if reflected:
            return lambda s, o: bind(prim, o, s)
        return lambda s, o: bind(prim, s, o)

    for dunder, name in [("add", "add"), ("sub", "subtract"), ("mul", "multiply"),
                         ("truediv", "divide"), ("pow", "pow"), ("matmul", "matmul")]:
        setattr(Tracer, f"__{dunder}__", op(name))
        setattr(Tracer, f"__r{dunder}__", op(name, reflected=True))
    neg, absolute = RULES["negative"], RULES["abs"]
    Tracer.__neg__ = lambda s: bind(neg, s)
    Tracer.__abs__ = lambda s: bind(absolute, s)
    Tracer.__getitem__ = lambda s, idx: getitem(s, idx)


_install_operators()


class _Concrete:
    """The namespace the reverse pass hands to rules when no other transform is live: every
    value is then concrete, so primitives run at once, without looking for tracers (and, when
    no flop count is open, straight from the implementation). Anything else is `ourad.xp`'s
    own."""

    def __init__(self, module, counted):
        self._module = module
        for name in _POSITIONAL:
            prim = RULES[name]
            setattr(self, name, partial(core.run_concrete, prim) if counted else prim.impl)

    def __getattr__(self, name):
        return getattr(self._module, name)


core._XP = __import__("sys").modules[__name__]
core._CONCRETE = (_Concrete(core._XP, counted=False), _Concrete(core._XP, counted=True))
