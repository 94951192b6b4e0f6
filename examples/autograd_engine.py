"""HIPS autograd behind the harness's Engine protocol: a model for plugging in a third-party AD.

    pytest tests/notes --ad-subject examples.autograd_engine:AutogradEngine
    ad-conformance --ad-subject autograd_engine:AutogradEngine    # installed; run beside this file

An adapter is three things. `xp`: the array namespace formulas `f(xp, *arrays)` compute with,
under Array API (2023.12) names, spelled the way autograd.numpy spells them. `jvp` and `vjp`:
autograd's own forward mode (`make_jvp`) and reverse mode (`make_vjp`), each over all inputs
at once (argnum is a tuple), NumPy float64 in and out. Optionally a fourth, `hvp`, for the
second-order check (here reverse over reverse). `AutogradMaxBug` below plants a bug, to
see whether a run catches it.
"""
from __future__ import annotations

import importlib.metadata
import types
import warnings

import numpy as np

import autograd
import autograd.numpy as anp
from autograd.extend import Box, defjvp, defvjp, primitive
from autograd.numpy.numpy_vjps import unbroadcast_f


def _broadcast_to(x, shape):
    """autograd's broadcast_to VJP cannot sum away new leading axes: add them as 1s first."""
    shape, own = tuple(shape), anp.shape(x)
    return anp.broadcast_to(anp.reshape(x, (1,) * (len(shape) - len(own)) + own), shape)


def _where(condition, x1, x2):
    """autograd's where VJP does not undo broadcasting (where(z > 0, z, 0.0) fails): broadcast
    both branches to the result's shape first."""
    shape = np.broadcast_shapes(anp.shape(condition), anp.shape(x1), anp.shape(x2))
    return anp.where(condition, _broadcast_to(x1, shape), _broadcast_to(x2, shape))


def _asarray(obj, dtype=None, copy=None):
    return obj if isinstance(obj, Box) else anp.array(obj, dtype=dtype)   # keeps a traced value


def _std(fn):
    return lambda x, axis=None, correction=0.0, keepdims=False: fn(x, axis=axis, ddof=correction,
                                                                   keepdims=keepdims)


class Namespace(types.SimpleNamespace):
    def __getattr__(self, name):   # only reached for a name the table below lacks
        raise AttributeError(f"autograd's namespace has no Array API name {name!r}")


# Standard names only, on purpose: no relu, sigmoid, softmax or logsumexp (not in the Array API;
# building them from standard ops is the harness's job, not each adapter's). Never fall back to
# autograd.numpy as a whole: it wraps every NumPy function, with or without a derivative rule
# (autograd.numpy.concat, NumPy 2's name, silently gives a zero derivative; concatenate is
# right). autograd's own gaps show as they are: hypot has no forward-mode rule (so its JVP is
# unsupported), and prod's derivative is NaN where an entry is 0 (autograd divides by it).
SAME = ("sin cos tan exp log log1p log2 log10 expm1 sqrt tanh sinh cosh abs sign floor ceil trunc "
        "round maximum minimum logaddexp hypot remainder add subtract multiply divide negative "
        "square matmul tensordot sum mean max min prod reshape squeeze roll tile repeat moveaxis "
        "argmax argmin zeros ones zeros_like ones_like full full_like eye arange linspace "
        "equal not_equal less less_equal greater greater_equal logical_and logical_or "
        "logical_not isfinite isinf isnan float32 float64 e pi inf nan").split()
xp = Namespace(
    **{name: getattr(anp, name) for name in SAME},
    acos=anp.arccos, acosh=anp.arccosh, asin=anp.arcsin, asinh=anp.arcsinh, atan=anp.arctan,
    atan2=anp.arctan2, atanh=anp.arctanh, pow=anp.power, where=_where, asarray=_asarray,
    clip=lambda x, min=None, max=None: anp.clip(x, min, max),
    concat=lambda arrays, axis=0: anp.concatenate(list(arrays), axis=axis),
    stack=lambda arrays, axis=0: anp.stack(list(arrays), axis=axis),
    expand_dims=lambda x, axis=0: anp.expand_dims(x, axis),
    permute_dims=lambda x, axes: anp.transpose(x, tuple(axes)),
    matrix_transpose=lambda x: anp.swapaxes(x, -1, -2), broadcast_to=_broadcast_to,
    vecdot=lambda x1, x2, axis=-1: anp.sum(x1 * x2, axis=axis),
    cumulative_sum=lambda x, axis=None: anp.cumsum(x, axis=axis),
    std=_std(anp.std), var=_std(anp.var), newaxis=None)


def _f64(x):
    return np.asarray(x, dtype=np.float64)   # a 0-d output stays a 0-d array


class AutogradEngine:
    name = "autograd"
    xp = xp
    version = importlib.metadata.version("autograd")

    def _over_all_inputs(self, make, f, primals):
        g = lambda *arrays: f(self.xp, *arrays)  # noqa: E731
        return make(g, argnum=tuple(range(len(primals))))(*[_f64(p) for p in primals])

    def jvp(self, f, primals, tangents):
        with warnings.catch_warnings():   # a constant formula is not worth a warning
            warnings.filterwarnings("ignore", "Output seems independent of input")
            push = self._over_all_inputs(autograd.make_jvp, f, primals)
            out, out_tangent = push(tuple(_f64(t) for t in tangents))
        return _f64(out), _f64(out_tangent)

    def vjp(self, f, primals, cotangent):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Output seems independent of input")
            pull, out = self._over_all_inputs(autograd.make_vjp, f, primals)
            bars = pull(_f64(cotangent))
        return _f64(out), tuple(_f64(b) for b in bars)

    def hvp(self, f, primals, cotangent, tangents):
        """Reverse over reverse: the gradient of <J(x)^T u, t>, which is H t for <u, f>."""
        u, ts = _f64(cotangent), [_f64(t) for t in tangents]

        def inner(*arrays):
            pull, _ = autograd.make_vjp(lambda *a: f(self.xp, *a),
                                        argnum=tuple(range(len(arrays))))(*arrays)
            return sum(anp.sum(b * t) for b, t in zip(pull(u), ts))
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Output seems independent of input")
            pull, _ = autograd.make_vjp(inner, argnum=tuple(range(len(primals))))(
                *[_f64(p) for p in primals])
            hv = pull(1.0)
        return _f64(f(self.xp, *[_f64(p) for p in primals])), tuple(_f64(h) for h in hv)


# --- a planted bug: maximum hands the whole derivative to its first argument -------------------
@primitive
def _maximum_first_takes_all(x1, x2):
    return np.maximum(x1, x2)


defvjp(_maximum_first_takes_all, lambda ans, x1, x2: unbroadcast_f(x1, lambda g: g), None)
defjvp(_maximum_first_takes_all, lambda g, ans, x1, x2: g * anp.ones_like(ans), None)


class AutogradMaxBug(AutogradEngine):
    """PLANTED BUG, for testing the harness: maximum(z, 0)' = 1 even where z < 0."""
    name = "autograd-planted-maximum-bug"
    xp = Namespace(**{**vars(xp), "maximum": _maximum_first_takes_all})
