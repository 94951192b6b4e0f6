"""The rule table: every primitive of ourad, its primal, its JVP and VJP rules and its flops.

Each entry is one `defrule` call. JVP and VJP rules come one per differentiable input, with
the uniform signatures

    jvp_i(xp, x_dot_i, y, *inputs, **params) -> y_dot contribution of input i
    vjp_i(xp, y_bar,   y, *inputs, **params) -> x_bar_i (broadcasting is undone by the core)

and are written against the namespace `xp` they are handed, so that they differentiate again.
`None` in a rule's place means "not differentiable in this argument" (e.g. a condition).

Flop counts (`flops(y, *inputs, **params)`), the convention the report and the notes' cost
claims use: a multiply-add counts 2, so matmul of (m,k) by (k,n) is 2mkn (2k for two vectors);
every elementwise op, transcendental or not, counts 1 per output element (abs, sign, relu,
maximum, minimum and where included: one compare or select each); a reduction over N entries
to M outputs counts N - M; reshaping, transposing, broadcasting, indexing and concatenating
move data and count 0; scatter-add counts one add per scattered entry.

Values at the kinks, the convention of every non-differentiable point (documented in the
README and recorded by the harness):
    relu(x)          derivative 1 at x = 0 (the notes' choice: f'(z) = 1 for z >= 0)
    abs(x)           derivative 0 at x = 0 (sign(0) = 0, the smallest subgradient in norm)
    maximum/minimum  at a tie each input gets half the cotangent (0.5, as JAX and PyTorch)
    max (reduction)  ties share the cotangent equally
    where(c, a, b)   the cotangent goes to the branch selected, the other gets 0
    sqrt(x)          derivative +inf at x = 0; pow(x, p) with respect to p is 0 where x = 0
"""
from __future__ import annotations

import math
import operator

import numpy as np

from .core import Primitive, Tracer, primal_of, shape_of, unbroadcast

RULES: dict[str, Primitive] = {}


def defrule(name, impl, jvp, vjp, flops, sample, kink=None, doc=""):
    """Add one primitive to the table. Every other part of ourad (the namespace `ourad.xp`,
    the parametrised tests, the harness's index of ops) reads this table.

    `sample(rng) -> (inputs, params)` draws a valid call from the op's domain (tests use it);
    `kink(*inputs, **params)` gives each output entry's distance to the nearest point where
    the op is not differentiable (None: smooth on its domain).
    """
    prim = Primitive(name, impl, jvp, vjp, flops, sample, kink, doc)
    RULES[name] = prim
    return prim


# --- domains: what `sample` draws -------------------------------------------------------------

def _values(rng, domain, shape):
    x = rng.standard_normal(shape)
    if domain == "real":
        return 1.5 * x
    if domain == "positive":        # log, sqrt, bases of pow: kept away from 0
        return np.exp(0.7 * x)
    if domain == "nonzero":         # divisors
        return np.sign(x) * (0.4 + np.abs(x))
    if domain == "above-1":         # log1p
        return np.exp(0.7 * x) - 0.9
    raise ValueError(domain)


def _shape(rng, ndim=None):
    ndim = int(rng.integers(0, 3)) if ndim is None else ndim
    return tuple(int(d) for d in rng.integers(1, 4, size=ndim))


def _elementwise(*domains):
    """Inputs of one drawn shape; for two inputs, the second is sometimes broadcast."""
    def sample(rng):
        shape = _shape(rng)
        shapes = [shape] * len(domains)
        if len(domains) == 2 and shape and rng.random() < 0.5:
            b = list(shape[int(rng.integers(0, len(shape))):])
            if b and rng.random() < 0.5:
                b[0] = 1
            shapes[1] = tuple(b)
        return tuple(_values(rng, d, s) for d, s in zip(domains, shapes)), {}
    return sample


def _size(y, *args, **params):
    return np.size(y)


def _zero(y, *args, **params):
    return 0


# Python floats take the `math` path (a NumPy ufunc on a Python float costs ~10x more);
# the NumPy path keeps dtypes (float32 stays float32) and lets NaN and inf propagate.
def _unary(math_fn, np_fn):
    def impl(x):
        if type(x) is float:
            try:
                return math_fn(x)
            except (ValueError, OverflowError):
                pass
            with np.errstate(all="ignore"):
                return float(np_fn(x))
        return np_fn(x)
    impl.__name__ = np_fn.__name__
    return impl


def _binary(op, np_fn):
    def impl(a, b):
        if type(a) is float and type(b) is float:
            try:
                r = op(a, b)
                if type(r) is float:
                    return r
            except (ZeroDivisionError, OverflowError, ValueError):
                pass
            with np.errstate(all="ignore"):
                return float(np_fn(a, b))
        return np_fn(a, b)
    impl.__name__ = np_fn.__name__
    return impl



# --- samplers of the structural ops -----------------------------------------------------------

def _sample_where(rng):
    (a, b), _ = _elementwise("real", "real")(rng)
    return (rng.random(np.shape(a)) < 0.5, a, b), {}


def _sample_matmul(rng):
    m, k, n, batch = (int(v) for v in rng.integers(1, 4, size=4))
    a_shape, b_shape = [((m, k), (k, n)), ((k,), (k, n)), ((m, k), (k,)), ((k,), (k,)),
                        ((batch, m, k), (k, n)), ((batch, m, k), (batch, k, n))][
        int(rng.integers(0, 6))]
    return (_values(rng, "real", a_shape), _values(rng, "real", b_shape)), {}


def _sample_reduction(rng):
    x = _values(rng, "real", _shape(rng, 3))
    axis = _pick(rng, [None, 0, 1, -1, (0, 2), (2, -3), ()])
    return (x,), {"axis": axis, "keepdims": bool(rng.random() < 0.5)}


def _pick(rng, options):
    return options[int(rng.integers(0, len(options)))]


def _sample_reshape(rng):
    return (_values(rng, "real", (2, 3, 2)),), {"shape": _pick(rng, [(12,), (3, 4), (2, 6, 1)])}


def _sample_broadcast(rng):
    x_shape, shape = _pick(rng, [((3, 1), (2, 3, 4)), ((4,), (3, 4)), ((), (2, 2))])
    return (_values(rng, "real", x_shape),), {"shape": shape}


def _sample_permute(rng):
    return (_values(rng, "real", (2, 3, 4)),), {"axes": tuple(int(a) for a in rng.permutation(3))}


_INDICES = [(slice(1, 3), 2), (np.array([0, 2, 2, 3]),), (Ellipsis, 1), (slice(None, None, 2),),
            (np.array([1, 1]), np.array([0, 4]))]


def _sample_getitem(rng):
    return (_values(rng, "real", (4, 5)),), {"idx": _pick(rng, _INDICES)}


def _sample_scatter(rng):
    idx = _pick(rng, _INDICES)
    g = _values(rng, "real", np.zeros((4, 5))[idx].shape)
    return (g,), {"idx": idx, "shape": (4, 5)}


def _sample_concat(rng):
    n, axis = int(rng.integers(1, 4)), int(rng.integers(0, 2))
    xs = tuple(_values(rng, "real", (2, int(d)) if axis == 1 else (int(d), 3))
               for d in rng.integers(1, 4, size=n))
    return xs, {"axis": axis}


# --- elementwise arithmetic -------------------------------------------------------------------

defrule("add", _binary(operator.add, np.add),
        jvp=(lambda xp, a_dot, y, a, b: a_dot,
             lambda xp, b_dot, y, a, b: b_dot),
        vjp=(lambda xp, y_bar, y, a, b: y_bar,
             lambda xp, y_bar, y, a, b: y_bar),
        flops=_size, sample=_elementwise("real", "real"))

defrule("subtract", _binary(operator.sub, np.subtract),
        jvp=(lambda xp, a_dot, y, a, b: a_dot,
             lambda xp, b_dot, y, a, b: xp.negative(b_dot)),
        vjp=(lambda xp, y_bar, y, a, b: y_bar,
             lambda xp, y_bar, y, a, b: xp.negative(y_bar)),
        flops=_size, sample=_elementwise("real", "real"))

defrule("multiply", _binary(operator.mul, np.multiply),
        jvp=(lambda xp, a_dot, y, a, b: xp.multiply(a_dot, b),
             lambda xp, b_dot, y, a, b: xp.multiply(a, b_dot)),
        vjp=(lambda xp, y_bar, y, a, b: xp.multiply(y_bar, b),
             lambda xp, y_bar, y, a, b: xp.multiply(a, y_bar)),
        flops=_size, sample=_elementwise("real", "real"))

defrule("divide", _binary(operator.truediv, np.divide),
        jvp=(lambda xp, a_dot, y, a, b: xp.divide(a_dot, b),
             lambda xp, b_dot, y, a, b: xp.negative(xp.divide(xp.multiply(b_dot, y), b))),
        vjp=(lambda xp, y_bar, y, a, b: xp.divide(y_bar, b),
             lambda xp, y_bar, y, a, b: xp.negative(xp.divide(xp.multiply(y_bar, y), b))),
        flops=_size, sample=_elementwise("real", "nonzero"))

defrule("negative", _unary(operator.neg, np.negative),
        jvp=(lambda xp, x_dot, y, x: xp.negative(x_dot),),
        vjp=(lambda xp, y_bar, y, x: xp.negative(y_bar),),
        flops=_size, sample=_elementwise("real"))


def _dpow_dbase(xp, a, b):
    # d/da a**b = b a**(b-1); a constant scalar exponent (x ** 2) needs no pow for b - 1
    if not isinstance(b, Tracer) and np.ndim(b) == 0:
        b = float(b)
        return xp.multiply(2.0, a) if b == 2.0 else xp.multiply(b, xp.pow(a, b - 1.0))
    return xp.multiply(b, xp.pow(a, xp.subtract(b, 1.0)))


def _dpow_dexp(xp, y, a):
    # d/dp a**p = a**p log a; taken as 0 where a == 0 (the limit along p > 0)
    zero = a == 0
    safe = xp.where(zero, 1.0, a)
    return xp.where(zero, 0.0, xp.multiply(y, xp.log(safe)))


defrule("pow", _binary(operator.pow, np.power),
        jvp=(lambda xp, a_dot, y, a, b: xp.multiply(a_dot, _dpow_dbase(xp, a, b)),
             lambda xp, b_dot, y, a, b: xp.multiply(b_dot, _dpow_dexp(xp, y, a))),
        vjp=(lambda xp, y_bar, y, a, b: xp.multiply(y_bar, _dpow_dbase(xp, a, b)),
             lambda xp, y_bar, y, a, b: xp.multiply(y_bar, _dpow_dexp(xp, y, a))),
        flops=_size, sample=_elementwise("positive", "real"))

# --- elementwise transcendental ---------------------------------------------------------------

defrule("sin", _unary(math.sin, np.sin),
        jvp=(lambda xp, x_dot, y, x: xp.multiply(x_dot, xp.cos(x)),),
        vjp=(lambda xp, y_bar, y, x: xp.multiply(y_bar, xp.cos(x)),),
        flops=_size, sample=_elementwise("real"))

defrule("cos", _unary(math.cos, np.cos),
        jvp=(lambda xp, x_dot, y, x: xp.negative(xp.multiply(x_dot, xp.sin(x))),),
        vjp=(lambda xp, y_bar, y, x: xp.negative(xp.multiply(y_bar, xp.sin(x))),),
        flops=_size, sample=_elementwise("real"))

defrule("exp", _unary(math.exp, np.exp),
        jvp=(lambda xp, x_dot, y, x: xp.multiply(x_dot, y),),
        vjp=(lambda xp, y_bar, y, x: xp.multiply(y_bar, y),),
        flops=_size, sample=_elementwise("real"))

defrule("log", _unary(math.log, np.log),
        jvp=(lambda xp, x_dot, y, x: xp.divide(x_dot, x),),
        vjp=(lambda xp, y_bar, y, x: xp.divide(y_bar, x),),
        flops=_size, sample=_elementwise("positive"))

defrule("log1p", _unary(math.log1p, np.log1p),
        jvp=(lambda xp, x_dot, y, x: xp.divide(x_dot, xp.add(1.0, x)),),
        vjp=(lambda xp, y_bar, y, x: xp.divide(y_bar, xp.add(1.0, x)),),
        flops=_size, sample=_elementwise("above-1"))

defrule("tanh", _unary(math.tanh, np.tanh),
        jvp=(lambda xp, x_dot, y, x: xp.multiply(x_dot, xp.subtract(1.0, xp.multiply(y, y))),),
        vjp=(lambda xp, y_bar, y, x: xp.multiply(y_bar, xp.subtract(1.0, xp.multiply(y, y))),),
        flops=_size, sample=_elementwise("real"))


def _sigmoid_np(x):
    # two branches so that neither exp overflows
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(np.result_type(x), copy=False)


def _sigmoid_math(x):
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


defrule("sigmoid", _unary(_sigmoid_math, _sigmoid_np),
        jvp=(lambda xp, x_dot, y, x: xp.multiply(x_dot, xp.multiply(y, xp.subtract(1.0, y))),),
        vjp=(lambda xp, y_bar, y, x: xp.multiply(y_bar, xp.multiply(y, xp.subtract(1.0, y))),),
        flops=_size, sample=_elementwise("real"))

defrule("sqrt", _unary(math.sqrt, np.sqrt),
        jvp=(lambda xp, x_dot, y, x: xp.divide(x_dot, xp.multiply(2.0, y)),),
        vjp=(lambda xp, y_bar, y, x: xp.divide(y_bar, xp.multiply(2.0, y)),),
        flops=_size, sample=_elementwise("positive"))

# --- kinks ------------------------------------------------------------------------------------


def _zero_rule(xp, t, y, *args, **params):
    return xp.zeros_like(y)


defrule("sign", _unary(lambda x: float((x > 0) - (x < 0)), np.sign),
        jvp=(_zero_rule,), vjp=(_zero_rule,), flops=_size, sample=_elementwise("real"),
        kink=lambda x: np.abs(x))

defrule("abs", _unary(math.fabs, np.abs),
        jvp=(lambda xp, x_dot, y, x: xp.multiply(x_dot, xp.sign(x)),),
        vjp=(lambda xp, y_bar, y, x: xp.multiply(y_bar, xp.sign(x)),),
        flops=_size, sample=_elementwise("real"),
        kink=lambda x: np.abs(x))


def _relu_mask(x):
    x = primal_of(x)
    m = x >= 0  # the notes: f'(z) = 1 for z >= 0
    return float(m) if type(m) is bool else m.astype(np.result_type(x), copy=False)


defrule("relu", _unary(lambda x: x if x > 0 or x != x else 0.0, lambda x: np.maximum(x, 0)),
        jvp=(lambda xp, x_dot, y, x: xp.multiply(x_dot, _relu_mask(x)),),
        vjp=(lambda xp, y_bar, y, x: xp.multiply(y_bar, _relu_mask(x)),),
        flops=_size, sample=_elementwise("real"),
        kink=lambda x: np.abs(x))


def _share(a, b):
    # weight of the first input of maximum: 1 where it wins, 1/2 at a tie, 0 where it loses
    a, b = primal_of(a), primal_of(b)
    w = (a > b) + 0.5 * (a == b)
    return w if type(w) is float else w.astype(np.result_type(a, b), copy=False)


defrule("maximum", _binary(lambda a, b: a if a >= b or a != a else b, np.maximum),
        jvp=(lambda xp, a_dot, y, a, b: xp.multiply(a_dot, _share(a, b)),
             lambda xp, b_dot, y, a, b: xp.multiply(b_dot, _share(b, a))),
        vjp=(lambda xp, y_bar, y, a, b: xp.multiply(y_bar, _share(a, b)),
             lambda xp, y_bar, y, a, b: xp.multiply(y_bar, _share(b, a))),
        flops=_size, sample=_elementwise("real", "real"),
        kink=lambda a, b: np.abs(np.subtract(a, b)))

defrule("minimum", _binary(lambda a, b: a if a <= b or a != a else b, np.minimum),
        jvp=(lambda xp, a_dot, y, a, b: xp.multiply(a_dot, _share(b, a)),
             lambda xp, b_dot, y, a, b: xp.multiply(b_dot, _share(a, b))),
        vjp=(lambda xp, y_bar, y, a, b: xp.multiply(y_bar, _share(b, a)),
             lambda xp, y_bar, y, a, b: xp.multiply(y_bar, _share(a, b))),
        flops=_size, sample=_elementwise("real", "real"),
        kink=lambda a, b: np.abs(np.subtract(a, b)))


def _where_impl(c, a, b):
    if type(c) is bool and type(a) is float and type(b) is float:
        return a if c else b
    return np.where(c, a, b)


defrule("where", _where_impl,
        jvp=(None,
             lambda xp, a_dot, y, c, a, b: xp.where(c, a_dot, 0.0),
             lambda xp, b_dot, y, c, a, b: xp.where(c, 0.0, b_dot)),
        vjp=(None,
             lambda xp, y_bar, y, c, a, b: xp.where(c, y_bar, 0.0),
             lambda xp, y_bar, y, c, a, b: xp.where(c, 0.0, y_bar)),
        flops=_size, sample=_sample_where)

# --- linear algebra ---------------------------------------------------------------------------


def _mT(xp, x):
    if type(x) is np.ndarray:   # a constant: a view, nothing to differentiate or count
        return x.swapaxes(-1, -2)
    return xp.matrix_transpose(x)


def _ndim(x):
    return len(shape_of(x))


def _matmul_vjp_a(xp, g, y, a, b):
    if np.ndim(b) == 1:
        if np.ndim(a) == 1:
            return xp.multiply(g, b)
        return xp.multiply(xp.expand_dims(g, -1), b)         # outer product (..., m) x (k,)
    if np.ndim(a) == 1:
        return xp.matmul(b, g) if np.ndim(b) == 2 else xp.matmul(b, xp.expand_dims(g, -1))[..., 0]
    return xp.matmul(g, _mT(xp, b))


def _matmul_vjp_b(xp, g, y, a, b):
    if np.ndim(a) == 1:
        if np.ndim(b) == 1:
            return xp.multiply(g, a)
        return xp.multiply(xp.expand_dims(a, -1), xp.expand_dims(g, -2))   # (k,) x (..., n)
    if np.ndim(b) == 1:
        return xp.matmul(_mT(xp, a), xp.expand_dims(g, -1))[..., 0]
    return xp.matmul(_mT(xp, a), g)


def _matmul_flops(y, a, b):
    return 2 * max(np.size(y), 1) * np.shape(a)[-1]


defrule("matmul", np.matmul,
        jvp=(lambda xp, a_dot, y, a, b: xp.matmul(a_dot, b),
             lambda xp, b_dot, y, a, b: xp.matmul(a, b_dot)),
        vjp=(_matmul_vjp_a, _matmul_vjp_b),
        flops=_matmul_flops, sample=_sample_matmul)

# --- reductions -------------------------------------------------------------------------------


def axes_of(axis, ndim) -> tuple:
    """The reduced axes, non-negative and sorted: None is every axis, an int one axis."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, int):
        axis = (axis,)
    return tuple(sorted(operator.index(a) % ndim for a in axis)) if ndim else ()


def _restore(xp, g, x, axis, keepdims):
    """Put the reduced axes back into g and broadcast it to x's shape."""
    shape = np.shape(x)
    if not keepdims and np.ndim(primal_of(g)) > 0:   # a 0-d g broadcasts as it is
        kept = list(shape)
        for a in axes_of(axis, len(shape)):
            kept[a] = 1
        g = xp.reshape(g, tuple(kept))
    return xp.broadcast_to(g, shape)


def _reduce_flops(y, x, axis=None, keepdims=False):
    return np.size(x) - np.size(y)


def _sum_impl(x, axis=None, keepdims=False):
    if type(x) is float:
        return x
    if type(x) is np.ndarray:   # the method skips np.sum's Python-level dispatch
        return x.sum(axis=axis, keepdims=keepdims)
    return np.sum(x, axis=axis, keepdims=keepdims)


defrule("sum", _sum_impl,
        jvp=(lambda xp, x_dot, y, x, axis=None, keepdims=False:
             xp.sum(x_dot, axis=axis, keepdims=keepdims),),
        vjp=(lambda xp, y_bar, y, x, axis=None, keepdims=False:
             _restore(xp, y_bar, x, axis, keepdims),),
        flops=_reduce_flops, sample=_sample_reduction)


def _max_weights(xp, y, x, axis, keepdims):
    # where x attains the max, 1/(number of ties); elsewhere 0 -- a plain array
    hit = x == _restore(np, np.asarray(primal_of(y)), primal_of(x), axis, keepdims)
    return (hit / np.sum(hit, axis=axis, keepdims=True)).astype(np.result_type(primal_of(x)))


def _max_impl(x, axis=None, keepdims=False):
    if type(x) is float:
        return x
    return np.max(x, axis=axis, keepdims=keepdims)


defrule("max", _max_impl,
        jvp=(lambda xp, x_dot, y, x, axis=None, keepdims=False:
             xp.sum(xp.multiply(x_dot, _max_weights(xp, y, x, axis, keepdims)), axis=axis,
                    keepdims=keepdims),),
        vjp=(lambda xp, y_bar, y, x, axis=None, keepdims=False:
             xp.multiply(_restore(xp, y_bar, x, axis, keepdims),
                              _max_weights(xp, y, x, axis, keepdims)),),
        flops=_reduce_flops, sample=_sample_reduction)

# --- shape ------------------------------------------------------------------------------------


def _reshape_impl(x, shape):
    if type(x) is np.ndarray:
        return x if x.shape == shape else x.reshape(shape)
    return np.reshape(x, shape)


defrule("reshape", _reshape_impl,
        jvp=(lambda xp, x_dot, y, x, shape: xp.reshape(x_dot, shape),),
        vjp=(lambda xp, y_bar, y, x, shape: xp.reshape(y_bar, np.shape(x)),),
        flops=_zero, sample=_sample_reshape)


def _broadcast_impl(x, shape):
    # np.broadcast_to costs microseconds: skip it when there is nothing to do, and fill small
    # arrays from a scalar (a loss's cotangent) directly
    if type(x) is np.ndarray and x.shape == shape:
        return x
    if np.ndim(x) == 0 and math.prod(shape) <= 4096:
        return np.full(shape, x, dtype=np.result_type(x))
    return np.broadcast_to(x, shape)


def _unbroadcast_rule(xp, y_bar, y, x, shape):
    return unbroadcast(xp, y_bar, np.shape(x))


defrule("broadcast_to", _broadcast_impl,
        jvp=(lambda xp, x_dot, y, x, shape: xp.broadcast_to(x_dot, shape),),
        vjp=(_unbroadcast_rule,),
        flops=_zero, sample=_sample_broadcast)


def _permute_impl(x, axes):
    return np.transpose(x, axes)


defrule("permute_dims", _permute_impl,
        jvp=(lambda xp, x_dot, y, x, axes: xp.permute_dims(x_dot, axes),),
        vjp=(lambda xp, y_bar, y, x, axes:
             xp.permute_dims(y_bar, tuple(np.argsort(axes))),),
        flops=_zero, sample=_sample_permute)


def _getitem_impl(x, idx):
    return x[idx]


def _scatter_impl(g, idx, shape):
    out = np.zeros(shape, dtype=np.result_type(g))
    np.add.at(out, idx, g)
    return out


defrule("getitem", _getitem_impl,
        jvp=(lambda xp, x_dot, y, x, idx: xp.getitem(x_dot, idx),),
        vjp=(lambda xp, y_bar, y, x, idx:
             xp.scatter_add(y_bar, idx=idx, shape=np.shape(x)),),
        flops=_zero, sample=_sample_getitem)

defrule("scatter_add", _scatter_impl,
        jvp=(lambda xp, g_dot, y, g, idx, shape:
             xp.scatter_add(g_dot, idx=idx, shape=shape),),
        vjp=(lambda xp, y_bar, y, g, idx, shape: xp.getitem(y_bar, idx),),
        flops=lambda y, g, idx, shape: np.size(g), sample=_sample_scatter)


class EachInput:
    """The rules of a primitive of any number of inputs: `rules[i]` serves input i. It has no
    length and cannot be iterated (it would never end): index it by the inputs of a call."""

    def __init__(self, rule):
        self.rule = rule

    def __getitem__(self, i):
        if not isinstance(i, int) or i < 0:
            raise IndexError(f"an input's position, got {i!r}")
        return lambda *a, **k: self.rule(i, *a, **k)

    def __iter__(self):
        raise TypeError("rules for any number of inputs cannot be iterated; index them by "
                        "the position of an input of a call")


def _concat_jvp(i, xp, x_dot, y, *xs, axis):
    parts = [x_dot if j == i else xp.zeros_like(x) for j, x in enumerate(xs)]
    return xp.concatenate(parts, axis=axis)


def _concat_vjp(i, xp, y_bar, y, *xs, axis):
    start = int(np.sum([np.shape(x)[axis] for x in xs[:i]]))
    stop = start + np.shape(xs[i])[axis]
    idx = [slice(None)] * np.ndim(y_bar)
    idx[axis] = slice(start, stop)
    return xp.getitem(y_bar, tuple(idx))


defrule("concatenate", lambda *xs, axis: np.concatenate(xs, axis=axis),
        jvp=EachInput(_concat_jvp), vjp=EachInput(_concat_vjp), flops=_zero,
        sample=_sample_concat)

