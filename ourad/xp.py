"""`ourad.xp`: the array namespace formulas compute with, under Array-API names.

Every differentiable function here binds a primitive of the rule table (`ourad.rules.RULES`):
one line `name = _op("name")` for a primitive called with its inputs alone, a `def` where the
call needs shaping first. The rest (constructors, comparisons, dtypes) works on plain NumPy
values and gives plain results. Comparisons give plain boolean arrays, as the harness needs
for masks. `tests/test_ourad_rules.py` checks that this namespace and the table agree.

>>> from ourad import xp
>>> xp.sum(xp.sin(x) * 2.0)
"""
from __future__ import annotations

import math
from functools import partial

import numpy as np

from .primitive import Tracer, bind, primal_of, run
from .rules import RULES, axes_of


def _op(name):
    """`xp.<name>(*inputs)`: bind the primitive of that name (a C-level partial: no extra
    Python frame on the hot path)."""
    fn = partial(bind, RULES[name])
    fn.__doc__ = f"ourad primitive '{name}' (see ourad.rules)."
    return fn


add = _op("add")
subtract = _op("subtract")
multiply = _op("multiply")
divide = _op("divide")
negative = _op("negative")
pow = _op("pow")
sin = _op("sin")
cos = _op("cos")
exp = _op("exp")
log = _op("log")
log1p = _op("log1p")
tanh = _op("tanh")
sigmoid = _op("sigmoid")
sqrt = _op("sqrt")
sign = _op("sign")
abs = _op("abs")
relu = _op("relu")
maximum = _op("maximum")
minimum = _op("minimum")
where = _op("where")
matmul = _op("matmul")

power = pow  # Array API spells it pow; NumPy, power

_SUM, _MAX, _RESHAPE, _BROADCAST_TO, _PERMUTE_DIMS, _GETITEM, _SCATTER_ADD, _CONCATENATE = (
    RULES[n] for n in ("sum", "max", "reshape", "broadcast_to", "permute_dims", "getitem",
                       "scatter_add", "concatenate"))


def _norm_axis(axis):
    if axis is None or isinstance(axis, int):
        return axis
    return tuple(axis)


def sum(x, axis=None, keepdims=False):
    """Sum over `axis` (all axes when None)."""
    return bind(_SUM, x, axis=_norm_axis(axis), keepdims=keepdims)


def max(x, axis=None, keepdims=False):
    """Largest entry over `axis`; at ties the derivative is shared equally."""
    return bind(_MAX, x, axis=_norm_axis(axis), keepdims=keepdims)


def min(x, axis=None, keepdims=False):
    """Smallest entry over `axis`, as -max(-x)."""
    return negative(max(negative(x), axis=axis, keepdims=keepdims))


def mean(x, axis=None, keepdims=False):
    """Arithmetic mean over `axis` (all axes when None)."""
    axis = _norm_axis(axis)
    shape = np.shape(primal_of(x))
    count = math.prod(shape[a] for a in axes_of(axis, len(shape)))
    return divide(sum(x, axis=axis, keepdims=keepdims), float(count))


def reshape(x, shape):
    """Reshape; one entry of `shape` may be -1."""
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    if -1 in shape:
        shape = np.empty(np.shape(primal_of(x)), dtype=bool).reshape(shape).shape
    return bind(_RESHAPE, x, shape=shape)


def broadcast_to(x, shape):
    return bind(_BROADCAST_TO, x, shape=tuple(shape))


def permute_dims(x, axes):
    return bind(_PERMUTE_DIMS, x, axes=tuple(axes))


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
    return bind(_GETITEM, x, idx=idx)


def scatter_add(g, idx, shape):
    return bind(_SCATTER_ADD, g, idx=idx, shape=tuple(shape))


def concatenate(arrays, axis=0):
    return bind(_CONCATENATE, *arrays, axis=axis)


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


# --- Python's operators on traced values --------------------------------------------------------

_NEGATIVE, _ABS = RULES["negative"], RULES["abs"]


def _binop(name):
    prim = RULES[name]   # looked up once, not at every call
    return (lambda s, o: bind(prim, s, o)), (lambda s, o: bind(prim, o, s))


class ArrayOps:
    """Python's operators for ourad's tracers (mixed into them by `ourad.core`): each binds
    its primitive directly."""

    __slots__ = ()
    __add__, __radd__ = _binop("add")
    __sub__, __rsub__ = _binop("subtract")
    __mul__, __rmul__ = _binop("multiply")
    __truediv__, __rtruediv__ = _binop("divide")
    __pow__, __rpow__ = _binop("pow")
    __matmul__, __rmatmul__ = _binop("matmul")
    __neg__ = lambda s: bind(_NEGATIVE, s)    # noqa: E731 -- a partial would not bind self
    __abs__ = lambda s: bind(_ABS, s)         # noqa: E731
    __getitem__ = getitem
    T = property(matrix_transpose)


# --- the namespace of the reverse pass on concrete values ----------------------------------------

class _Concrete:
    """The namespace the reverse pass hands to rules when no other transform is live: every
    value is then concrete, so primitives run at once, without looking for tracers (and, when
    no flop count is open, straight from the implementation). Anything else is `ourad.xp`'s
    own."""

    def __init__(self, counted):
        for name, fn in globals().items():
            if isinstance(fn, partial) and fn.func is bind:
                prim = fn.args[0]
                setattr(self, name, partial(run, prim) if counted else prim.impl)

    def __getattr__(self, name):
        fn = globals()[name] if name in globals() else __getattr__(name)
        setattr(self, name, fn)   # found once
        return fn


CONCRETE = _Concrete(counted=False)
CONCRETE_COUNTED = _Concrete(counted=True)
