"""The rule table: every primitive of ourad, its primal, its JVP and VJP rules and its flops.

Each entry is one `defrule` call. JVP and VJP rules come one per differentiable input, with
the uniform signatures

    jvp_i(xp, x_dot_i, y, *inputs, **params) -> y_dot contribution of input i
    vjp_i(xp, y_bar,   y, *inputs, **params) -> x_bar_i (broadcasting is undone by the core)

and are written against the namespace `xp` they are handed, so that they differentiate again.
`None` in a rule's place means "not differentiable in this argument" (e.g. a condition).

An elementwise primitive declares its partial derivatives instead, once: its Jacobian is
diagonal, so its JVP and its VJP rule are one and the same map t -> dy/dx_i * t, which
`defrule` derives (they cannot disagree).

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

from . import buffers, sampling
from .primitive import Primitive, Tracer, primal_of, shape_of

RULES: dict[str, Primitive] = {}


def defrule(name, impl, *, flops, sample, partials=None, jvp=None, vjp=None, kink=None,
            reads=None):
    """Add one primitive to the table. Every other part of ourad (the namespace `ourad.xp`,
    the parametrised tests, the harness's index of ops) reads this table.

    An elementwise primitive gives `partials`, one per input: dy/dx_i as a function
    `(xp, y, *inputs)`, a constant (1.0, -1.0 or 0.0), `over(g)` for 1 / g(xp, y, *inputs)
    (one division rather than a reciprocal and a product), or None where the primitive is not
    differentiable. Any other primitive gives its `jvp` and `vjp` rules.
    `sample(rng) -> (inputs, params)` draws a valid call from the op's domain (tests use it);
    `kink(*inputs, **params)` gives each output entry's distance to the nearest point where
    the op is not differentiable (None: smooth on its domain).

    `reads`, per input, is what its VJP rule reads besides the cotangent ("y": the output, an
    int: an input; shapes and dtypes are always at hand), set as the rule's `needs`, by which
    `grad`'s tape drops the large values no rule reads (`ourad.core`). A rule without `needs`
    gets every value.
    """
    if (partials is None) == (jvp is None or vjp is None):
        raise TypeError(f"defrule('{name}'): give either partials or both jvp and vjp")
    if partials is not None:
        jvp = vjp = tuple(_times_partial(d, len(partials)) for d in partials)
    for rule, r in zip(vjp, reads) if reads else ():   # (every rule gets one: a test checks)
        if rule is not None:
            rule.needs = frozenset(r)
    prim = Primitive(name, impl, jvp, vjp, flops, sample, kink, partials)
    RULES[name] = prim
    return prim


class over:
    """A partial derivative 1 / g: the rule divides by g."""

    def __init__(self, g):
        self.g = g


def fresh(d):
    """Mark a one-input partial derivative whose array results nothing else holds: the rule
    writes its product with the tangent over them (the same values, a temporary fewer)."""
    d.fresh = True
    return d


def _times_partial(d, nin):
    """The map t -> d * t of one input of an elementwise primitive, its JVP and VJP rule."""
    if d is None:
        return None
    if isinstance(d, over):
        g = d.g
        if nin == 1:
            return lambda xp, t, y, x: xp.divide(t, g(xp, y, x))
        return lambda xp, t, y, a, b: xp.divide(t, g(xp, y, a, b))
    if not callable(d):
        if d not in (1.0, -1.0, 0.0):
            raise ValueError(f"a constant partial derivative must be 1, -1 or 0, got {d!r}")
        if d == 0.0:
            return lambda xp, t, y, *inputs: xp.zeros_like(y)
        if nin == 1:
            return (lambda xp, t, y, x: t) if d == 1.0 else (lambda xp, t, y, x: xp.negative(t))
        return (lambda xp, t, y, a, b: t) if d == 1.0 else (lambda xp, t, y, a, b: xp.negative(t))
    if nin == 1 and getattr(d, "fresh", False):
        def times_fresh(xp, t, y, x):   # over p where both are concrete arrays of one kind
            p = d(xp, y, x)
            same = type(p) is np.ndarray and type(t) is np.ndarray and p.shape == t.shape
            return xp.multiply(t, p, out=p) if same and p.dtype == t.dtype else xp.multiply(t, p)
        return times_fresh
    if nin == 1:   # spelled out by arity: no *args packing on the hot path
        return lambda xp, t, y, x: xp.multiply(t, d(xp, y, x))
    return lambda xp, t, y, a, b: xp.multiply(t, d(xp, y, a, b))


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


def unbroadcast(xp, g, shape):
    """Sum a cotangent back to the shape of the input that was broadcast. The one place in
    ourad where broadcasting is undone."""
    gshape = shape_of(g)
    if gshape == tuple(shape):
        return g
    lead = len(gshape) - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, d in enumerate(shape) if d == 1 and gshape[lead + i] != 1)
    if axes:
        g = xp.sum(g, axis=axes)
    if shape_of(g) != tuple(shape):
        g = xp.reshape(g, shape)
    return g


def _size(y, *args, **params):
    return np.size(y)


def _zero(y, *args, **params):
    return 0


_real, _real2 = sampling.elementwise("real"), sampling.elementwise("real", "real")


# --- elementwise arithmetic -------------------------------------------------------------------

defrule("add", buffers.binary(operator.add, np.add), partials=(1.0, 1.0), reads=((), ()),
        flops=_size, sample=_real2)

defrule("subtract", buffers.binary(operator.sub, np.subtract), partials=(1.0, -1.0),
        reads=((), ()), flops=_size, sample=_real2)

defrule("multiply", buffers.binary(operator.mul, np.multiply),
        partials=(lambda xp, y, a, b: b,
                  lambda xp, y, a, b: a),
        reads=((1,), (0,)), flops=_size, sample=_real2)

defrule("divide", buffers.binary(operator.truediv, np.divide),
        partials=(over(lambda xp, y, a, b: b),                          # 1 / b
                  lambda xp, y, a, b: xp.negative(xp.divide(y, b))),   # -a / b^2 = -y / b
        reads=((1,), ("y", 1)), flops=_size, sample=sampling.elementwise("real", "nonzero"))

defrule("negative", buffers.unary(operator.neg, np.negative), partials=(-1.0,), reads=((),),
        flops=_size, sample=_real)


def _dpow_dbase(xp, y, a, b):
    # d/da a**b = b a**(b-1); a constant scalar exponent (x ** 2) needs no pow for b - 1
    if type(b) is float or type(b) is int or not isinstance(b, Tracer) and np.ndim(b) == 0:
        b = float(b)
        return xp.multiply(2.0, a) if b == 2.0 else xp.multiply(b, xp.pow(a, b - 1.0))
    return xp.multiply(b, xp.pow(a, xp.subtract(b, 1.0)))


def _dpow_dexp(xp, y, a, b):
    # d/dp a**p = a**p log a; taken as 0 where a == 0 (the limit along p > 0)
    zero = a == 0
    safe = xp.where(zero, 1.0, a)
    return xp.where(zero, 0.0, xp.multiply(y, xp.log(safe)))


defrule("pow", buffers.binary(operator.pow, np.power), partials=(_dpow_dbase, _dpow_dexp),
        reads=((0, 1), ("y", 0)), flops=_size, sample=sampling.elementwise("positive", "real"))

# --- elementwise transcendental ---------------------------------------------------------------

defrule("sin", buffers.unary(math.sin, np.sin), partials=(lambda xp, y, x: xp.cos(x),),
        reads=((0,),), flops=_size, sample=_real)

defrule("cos", buffers.unary(math.cos, np.cos), partials=(lambda xp, y, x: xp.negative(xp.sin(x)),),
        reads=((0,),), flops=_size, sample=_real)

defrule("exp", buffers.unary(math.exp, np.exp), partials=(lambda xp, y, x: y,),
        reads=(("y",),), flops=_size, sample=_real)

defrule("log", buffers.unary(math.log, np.log), partials=(over(lambda xp, y, x: x),),
        reads=((0,),), flops=_size, sample=sampling.elementwise("positive"))

defrule("log1p", buffers.unary(math.log1p, np.log1p), partials=(over(lambda xp, y, x: xp.add(1.0, x)),),
        reads=((0,),), flops=_size, sample=sampling.elementwise("above-1"))


@fresh
def _dtanh(xp, y, x):
    yy = xp.multiply(y, y)   # 1 - y^2, the subtraction written over y^2 where it is an array
    return xp.subtract(1.0, yy, out=yy) if type(yy) is np.ndarray else xp.subtract(1.0, yy)


defrule("tanh", buffers.unary(math.tanh, np.tanh), partials=(_dtanh,), reads=(("y",),),
        flops=_size, sample=_real)


def _sigmoid_np(x):
    # two branches so that neither exp overflows
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(np.result_type(x), copy=False)


def _sigmoid_math(x):
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


defrule("sigmoid", buffers.unary(_sigmoid_math, _sigmoid_np),
        partials=(lambda xp, y, x: xp.multiply(y, xp.subtract(1.0, y)),), reads=(("y",),),
        flops=_size, sample=_real)

defrule("sqrt", buffers.unary(math.sqrt, np.sqrt), partials=(over(lambda xp, y, x: xp.multiply(2.0, y)),),
        reads=(("y",),), flops=_size, sample=sampling.elementwise("positive"))

# --- kinks ------------------------------------------------------------------------------------

defrule("sign", buffers.unary(lambda x: float((x > 0) - (x < 0)), np.sign), partials=(0.0,),
        reads=((),), flops=_size, sample=_real, kink=lambda x: np.abs(x))

defrule("abs", buffers.unary(math.fabs, np.abs), partials=(lambda xp, y, x: xp.sign(x),),
        reads=((0,),), flops=_size, sample=_real, kink=lambda x: np.abs(x))


@fresh
def _relu_mask(xp, y, x):
    x = primal_of(x)   # the notes: f'(z) = 1 for z >= 0
    out = buffers.out_for(x) if type(x) is np.ndarray else None
    if out is not None:
        return np.greater_equal(x, 0, out=out)
    m = x >= 0
    return float(m) if type(m) is bool else m.astype(np.result_type(x), copy=False)


def _relu_np(x, out=None):
    return np.maximum(x, 0, out=out)


defrule("relu", buffers.unary(lambda x: x if x > 0 or x != x else 0.0, _relu_np, into=_relu_np),
        partials=(_relu_mask,), reads=((0,),), flops=_size, sample=_real, kink=lambda x: np.abs(x))


def _share(a, b):
    # weight of the first input of maximum: 1 where it wins, 1/2 at a tie, 0 where it loses
    a, b = primal_of(a), primal_of(b)
    w = (a > b) + 0.5 * (a == b)
    return w if type(w) is float else w.astype(np.result_type(a, b), copy=False)


defrule("maximum", buffers.binary(lambda a, b: a if a >= b or a != a else b, np.maximum),
        partials=(lambda xp, y, a, b: _share(a, b),
                  lambda xp, y, a, b: _share(b, a)),
        reads=((0, 1), (0, 1)), flops=_size, sample=_real2,
        kink=lambda a, b: np.abs(np.subtract(a, b)))

defrule("minimum", buffers.binary(lambda a, b: a if a <= b or a != a else b, np.minimum),
        partials=(lambda xp, y, a, b: _share(b, a),
                  lambda xp, y, a, b: _share(a, b)),
        reads=((0, 1), (0, 1)), flops=_size, sample=_real2,
        kink=lambda a, b: np.abs(np.subtract(a, b)))


def _where_impl(c, a, b):
    if type(c) is bool and type(a) is float and type(b) is float:
        return a if c else b
    return np.where(c, a, b)


# where's partials are the masks c and not c; its rules select rather than multiply, so that
# an infinite or NaN tangent of the branch not taken stays out. Elementwise, so one map serves
# both modes, as `partials` would.
_WHERE = (None,
          lambda xp, t, y, c, a, b: xp.where(c, t, 0.0),
          lambda xp, t, y, c, a, b: xp.where(c, 0.0, t))
defrule("where", _where_impl, jvp=_WHERE, vjp=_WHERE, reads=((), (0,), (0,)), flops=_size,
        sample=sampling.where)

# --- linear algebra ---------------------------------------------------------------------------


def _mT(xp, x):
    if type(x) is np.ndarray:   # a constant: a view, nothing to differentiate or count
        return x.swapaxes(-1, -2)
    return xp.matrix_transpose(x)


def _ndim(x):   # an array's, a tracer's or a dropped value's, without NumPy's wrapper
    return x.ndim if type(x) is np.ndarray else len(shape_of(x))


def _matmul_vjp_a(xp, g, y, a, b):
    nb = _ndim(b)
    if nb == 1:
        if _ndim(a) == 1:
            return xp.multiply(g, b)
        return xp.multiply(xp.expand_dims(g, -1), b)         # outer product (..., m) x (k,)
    if _ndim(a) == 1:
        return xp.matmul(b, g) if nb == 2 else xp.matmul(b, xp.expand_dims(g, -1))[..., 0]
    return xp.matmul(g, _mT(xp, b))


def _matmul_vjp_b(xp, g, y, a, b):
    if _ndim(a) == 1:
        if _ndim(b) == 1:
            return xp.multiply(g, a)
        return xp.multiply(xp.expand_dims(a, -1), xp.expand_dims(g, -2))   # (k,) x (..., n)
    if _ndim(b) == 1:
        return xp.matmul(_mT(xp, a), xp.expand_dims(g, -1))[..., 0]
    return xp.matmul(_mT(xp, a), g)


def _matmul_flops(y, a, b):
    return 2 * max(np.size(y), 1) * np.shape(a)[-1]


def _matmul_impl(a, b):
    if type(a) is np.ndarray and type(b) is np.ndarray and a.ndim == 2 == b.ndim and \
            a.shape[0] * b.shape[1] * a.itemsize >= buffers.MIN_BYTES:   # a large result
        return np.matmul(a, b, out=buffers.matmul_out(a, b))
    return np.matmul(a, b)


defrule("matmul", _matmul_impl,
        jvp=(lambda xp, a_dot, y, a, b: xp.matmul(a_dot, b),
             lambda xp, b_dot, y, a, b: xp.matmul(a, b_dot)),
        vjp=(_matmul_vjp_a, _matmul_vjp_b), reads=((1,), (0,)),   # and the inputs' ndim
        flops=_matmul_flops, sample=sampling.matmul)

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
    shape = shape_of(x)
    if not keepdims and shape_of(g) != ():   # a 0-d g broadcasts as it is
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
             _restore(xp, y_bar, x, axis, keepdims),), reads=((),),   # x's shape
        flops=_reduce_flops, sample=sampling.reduction)


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
                         _max_weights(xp, y, x, axis, keepdims)),), reads=(("y", 0),),
        flops=_reduce_flops, sample=sampling.reduction)

# --- shape ------------------------------------------------------------------------------------


def _reshape_impl(x, shape):
    if type(x) is np.ndarray:
        return x if x.shape == shape else x.reshape(shape)
    return np.reshape(x, shape)


defrule("reshape", _reshape_impl,
        jvp=(lambda xp, x_dot, y, x, shape: xp.reshape(x_dot, shape),),
        vjp=(lambda xp, y_bar, y, x, shape: xp.reshape(y_bar, np.shape(x)),), reads=((),),
        flops=_zero, sample=sampling.reshape)


def _broadcast_impl(x, shape):
    # np.broadcast_to costs microseconds: skip it when there is nothing to do, and fill small
    # arrays from a scalar (a loss's cotangent) directly
    if type(x) is np.ndarray and x.shape == shape:
        return x
    if (type(x) is float or np.ndim(x) == 0) and math.prod(shape) <= 4096:
        out = np.empty(shape, np.float64 if type(x) is float else np.result_type(x))
        out.fill(x)   # as np.full, without its wrapper
        return out
    return np.broadcast_to(x, shape)


defrule("broadcast_to", _broadcast_impl,
        jvp=(lambda xp, x_dot, y, x, shape: xp.broadcast_to(x_dot, shape),),
        vjp=(lambda xp, y_bar, y, x, shape: unbroadcast(xp, y_bar, np.shape(x)),),
        reads=((),), flops=_zero, sample=sampling.broadcast_to)

defrule("permute_dims", lambda x, axes: np.transpose(x, axes),
        jvp=(lambda xp, x_dot, y, x, axes: xp.permute_dims(x_dot, axes),),
        vjp=(lambda xp, y_bar, y, x, axes:
             xp.permute_dims(y_bar, tuple(np.argsort(axes))),), reads=((),),
        flops=_zero, sample=sampling.permute_dims)


def _scatter_impl(g, idx, shape):
    out = np.zeros(shape, dtype=np.result_type(g))
    np.add.at(out, idx, g)
    return out


defrule("getitem", lambda x, idx: x[idx],
        jvp=(lambda xp, x_dot, y, x, idx: xp.getitem(x_dot, idx),),
        vjp=(lambda xp, y_bar, y, x, idx:
             xp.scatter_add(y_bar, idx=idx, shape=np.shape(x)),), reads=((),),
        flops=_zero, sample=sampling.getitem)

defrule("scatter_add", _scatter_impl,
        jvp=(lambda xp, g_dot, y, g, idx, shape:
             xp.scatter_add(g_dot, idx=idx, shape=shape),),
        vjp=(lambda xp, y_bar, y, g, idx, shape: xp.getitem(y_bar, idx),), reads=((),),
        flops=lambda y, g, idx, shape: np.size(g), sample=sampling.scatter_add)


def _concat_jvp(i, xp, x_dot, y, *xs, axis):
    parts = [x_dot if j == i else xp.zeros_like(x) for j, x in enumerate(xs)]
    return xp.concatenate(parts, axis=axis)


def _concat_vjp(i, xp, y_bar, y, *xs, axis):
    start = sum(np.shape(x)[axis] for x in xs[:i])
    stop = start + np.shape(xs[i])[axis]
    idx = [slice(None)] * np.ndim(y_bar)
    idx[axis] = slice(start, stop)
    return xp.getitem(y_bar, tuple(idx))


defrule("concatenate", lambda *xs, axis: np.concatenate(xs, axis=axis),
        jvp=EachInput(_concat_jvp), vjp=EachInput(_concat_vjp), flops=_zero,
        sample=sampling.concatenate)
