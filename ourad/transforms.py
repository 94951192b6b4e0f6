"""ourad's transforms, built on the two traces of `ourad.core`: jvp, vjp, grad, value_and_grad,
jacfwd, jacrev and hessian, with the checks of what goes in and comes out.

A differentiated function returns an array (or a scalar), or a tuple or list of them, nested
as deep as it likes, as in JAX: the primal comes back with that structure, a JVP's tangent
too, and a VJP's cotangent must have it.
"""
from __future__ import annotations

import numbers
from typing import Callable, Sequence

import numpy as np

from . import xp as _xp
from .core import JVPTrace, JVPTracer, VJPTrace, VJPTracer
from .primitive import Tracer, live, primal_of, shape_of

__all__ = ["jvp", "vjp", "grad", "value_and_grad", "jacfwd", "jacrev", "hessian"]


# ---------------------------------------------------------------------------------------------
# What goes in

def _check_float(x, what, name="inputs"):
    """x as a real floating-point value, or a TypeError naming `what`, `name` and the dtype."""
    if type(x) is float or isinstance(x, Tracer) or \
            type(x) is np.ndarray and x.dtype.kind == "f":   # the common cases, first
        return x
    if x is None:
        raise TypeError(f"ourad.{what}: {name} must be real floating point, got None")
    if isinstance(x, (bool, int, complex)) and not isinstance(x, float):
        raise TypeError(f"ourad.{what}: {name} must be real floating point, got Python "
                        f"{type(x).__name__} {x!r}; pass a float (e.g. {float(x.real)!r})")
    if isinstance(x, float):
        return x
    x = np.asarray(x) if not isinstance(x, np.ndarray) else x
    if x.dtype.kind != "f":
        raise TypeError(f"ourad.{what}: {name} must be real floating point, got dtype "
                        f"{x.dtype}; cast with .astype(float)")
    return x


def _same_shape(what, expected, got, name):
    es, gs = shape_of(expected), shape_of(got)
    if es != gs:
        raise ValueError(f"ourad.{what}: {name} has shape {gs}, expected shape {es} "
                         "(the shape of the value it pairs with)")


def _float_dtype(*values):
    dts = [np.result_type(primal_of(v)) for v in values]
    return next((dt for dt in dts if dt.kind == "f"), np.dtype(np.float64))


def _zeros_like(x):
    p = primal_of(x)
    return 0.0 if isinstance(p, float) else np.zeros(np.shape(p), _float_dtype(p))


def _ones_like(x):
    p = primal_of(x)
    return 1.0 if isinstance(p, float) else np.ones(np.shape(p), _float_dtype(p))


# ---------------------------------------------------------------------------------------------
# What comes out: an array, or tuples and lists of them

_LEAF = (Tracer, np.ndarray, numbers.Number)


def _flatten(out, what):
    """f's output as a flat list of arrays and its structure (None for one array)."""
    if isinstance(out, _LEAF):
        return [out], None
    if not isinstance(out, (tuple, list)):
        raise TypeError(f"ourad.{what}: f must return an array, a scalar, or a tuple or list "
                        f"of them; got {type(out).__name__}")
    flat, children = [], []
    for o in out:
        leaves, structure = _flatten(o, what)
        flat += leaves
        children.append(structure)
    return flat, (type(out), children)


def _unflatten(structure, flat):
    it = iter(flat)

    def build(s):
        if s is None:
            return next(it)
        typ, children = s
        items = [build(c) for c in children]
        return typ(items) if typ in (tuple, list) else typ(*items)   # a namedtuple
    return build(structure)


def _describe(structure):
    if structure is None:
        return "array"
    typ, children = structure
    inner = ", ".join(_describe(c) for c in children)
    if issubclass(typ, list):
        return f"[{inner}]"
    return f"({inner}{',' if len(children) == 1 else ''})"


def _match(structure, ct, what, whole=None):
    """The leaves of a cotangent that must have the structure of f's output."""
    if structure is None:
        return [ct]
    whole = structure if whole is None else whole
    typ, children = structure
    if not isinstance(ct, (tuple, list)) or len(ct) != len(children):
        got = (f"a {type(ct).__name__} of {len(ct)}" if isinstance(ct, (tuple, list))
               else type(ct).__name__)
        where = "" if structure is whole else f" (at its part {_describe(structure)})"
        raise ValueError(f"ourad.{what}: the cotangent must have the structure of f's "
                         f"output, {_describe(whole)}; got {got}{where}")
    return [leaf for c, s in zip(ct, children) for leaf in _match(s, c, what, whole)]


def _check_cotangent(ct, out, what):
    if type(ct) is float and type(out) is float:   # the scalar case, first
        return ct
    if ct is None:
        raise TypeError(f"ourad.{what}: the cotangent is None; pass an array of shape "
                        f"{shape_of(out)}, the output's (e.g. ones for a gradient)")
    ct = _check_float(ct, what, "the cotangent")
    _same_shape(what, out, ct, "the cotangent")
    return ct


# ---------------------------------------------------------------------------------------------
# The transforms

def jvp(f: Callable, primals: Sequence, tangents: Sequence):
    """Forward mode: `(f(*primals), J @ tangents)`.

    >>> ourad.jvp(lambda x: xp.sin(x), (1.0,), (1.0,))   # (sin 1, cos 1)
    """
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise ValueError(f"ourad.jvp: {len(primals)} primals but {len(tangents)} tangents")
    primals = tuple(_check_float(p, "jvp") for p in primals)
    tangents = tuple(_check_float(t, "jvp", "a tangent") for t in tangents)
    for p, t in zip(primals, tangents):
        _same_shape("jvp", p, t, "a tangent")
    with JVPTrace() as tr:
        out = f(*[JVPTracer(tr.level, p, t) for p, t in zip(primals, tangents)])
        lvl = tr.level
        if isinstance(out, JVPTracer) and out.level == lvl:   # the common case, first
            return out.primal, out.tangent
        flat, structure = _flatten(out, "jvp")
        pairs = [(o.primal, o.tangent) if isinstance(o, JVPTracer) and o.level == lvl
                 else (o, _zeros_like(o)) for o in flat]
        return (_unflatten(structure, [p for p, _ in pairs]),
                _unflatten(structure, [t for _, t in pairs]))


def vjp(f: Callable, *primals, _caller: str = "vjp"):
    """Reverse mode: `(f(*primals), vjp_fn)` where `vjp_fn(y_bar)` gives one cotangent per
    primal; `y_bar` has the structure of f's output (an array, or a tuple or list of them).
    `vjp_fn` may be called any number of times.

    >>> y, back = ourad.vjp(lambda x, w: x @ w, x, w)
    >>> x_bar, w_bar = back(np.ones_like(y))
    """
    primals = tuple([_check_float(p, _caller) for p in primals])
    tr = VJPTrace()
    with tr:
        leaves = [tr.leaf(p) for p in primals]
        out = f(*leaves)
    if isinstance(out, VJPTracer) and out.level == tr.level:   # the common case, first
        structure, nodes, outs = None, [out.entry or out], [out.primal]
    else:
        flat, structure = _flatten(out, _caller)
        nodes = [o.entry or o if isinstance(o, VJPTracer) and o.level == tr.level else None
                 for o in flat]
        outs = [o.primal if n is not None else o for o, n in zip(flat, nodes)]

    def vjp_fn(y_bar):
        if structure is None:
            cts = [_check_cotangent(y_bar, outs[0], _caller)]
        else:
            cts = [_check_cotangent(ct, o, _caller)
                   for ct, o in zip(_match(structure, y_bar, _caller), outs)]
        seeds = [(n, ct) for n, ct in zip(nodes, cts) if n is not None]
        if not seeds:
            return tuple([_zeros_like(p) for p in primals])
        with tr:  # the level must be live while the tape is walked (nested use)
            x_bars = tr.backward(seeds, leaves)
        return tuple([_zeros_like(p) if c is None else c for c, p in zip(x_bars, primals)])

    return (outs[0] if structure is None else _unflatten(structure, outs)), vjp_fn


def _at(f, args, nums):
    """f as a function of the arguments at positions `nums`, the others held at `args`."""
    def g(*sel):
        full = list(args)
        for i, s in zip(nums, sel):
            full[i] = s
        return f(*full)
    return g


def value_and_grad(f: Callable, argnums=0):
    """`f`'s value and its gradient with respect to `argnums` (an int or a tuple), as JAX's.

    >>> ourad.value_and_grad(lambda x: x * x)(3.0)   # (9.0, 6.0)
    """
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    everything = nums == tuple(range(len(nums)))   # f(*the differentiated args) as they are

    def wrapped(*args):
        primals = [_check_float(args[i], "grad") for i in nums]
        g = f if everything and len(args) == len(nums) else _at(f, args, nums)
        tr = VJPTrace(lean=True)   # walked once, right away: it keeps what its rules read
        lvl = tr.level
        live[lvl] = tr   # as `with tr:`, one frame fewer
        try:   # one walk of the tape, which is then dropped: it may free as it goes
            leaves = list(map(tr.leaf, primals))   # (no comprehension's frame)
            out = g(*leaves)
            if isinstance(out, VJPTracer) and out.level == lvl and (
                    type(out.primal) is float or shape_of(out.primal) == ()):   # common, first
                y = out.primal
                cts = tr.backward([(out.entry or out, 1.0 if type(y) is float else
                                    _ones_like(y))], leaves, release=True)
            else:
                y, cts = _not_traced(out), [None] * len(leaves)
        finally:
            del live[lvl]
        for k, c in enumerate(cts):
            if c is None:
                cts[k] = _zeros_like(primals[k])
        return y, (cts[0] if isinstance(argnums, int) else tuple(cts))

    return wrapped


def _not_traced(out):
    """A value of f that does not depend on the differentiated inputs: checked as `vjp` and
    `grad` check any output, and returned as it is."""
    _flatten(out, "grad")
    if isinstance(out, (tuple, list)) or shape_of(out) != ():
        got = "a " + type(out).__name__ if isinstance(out, (tuple, list)) else \
            f"shape {shape_of(out)}"
        raise ValueError(f"ourad.grad: f must return a scalar, got {got}; use jacrev or vjp")
    return out


def grad(f: Callable, argnums=0):
    """The gradient of scalar-valued `f` with respect to argument `argnums`.

    >>> ourad.grad(lambda x: x * ourad.grad(lambda y: x + y)(1.0))(2.0)   # 1.0
    """
    vg = value_and_grad(f, argnums)
    return lambda *args: vg(*args)[1]


def _basis(x):
    """The unit arrays of x's shape, one per entry, in a floating dtype."""
    p = primal_of(x)
    eye = np.eye(int(np.size(p)), dtype=_float_dtype(p))
    return [row.reshape(np.shape(p)) for row in eye]


def _empty_jacobians(y, x, what):
    """The Jacobians of an output with respect to an input of no entries (or the reverse)."""
    flat, structure = _flatten(y, what)
    blocks = [np.zeros(shape_of(o) + shape_of(x), _float_dtype(o, x)) for o in flat]
    return blocks[0] if structure is None else _unflatten(structure, blocks)


def jacfwd(f: Callable, argnums: int = 0):
    """The Jacobian by forward mode, one column per input entry; shape out.shape + in.shape
    (a tuple or list of such for several outputs).

    >>> ourad.jacfwd(lambda v: xp.sin(v))(np.zeros(3))   # the 3 x 3 identity
    """
    def wrapped(*args):
        x = _check_float(args[argnums], "jacfwd")
        g = _at(f, args, (argnums,))
        columns = [jvp(g, (x,), (e,)) for e in _basis(x)]
        if not columns:   # x has no entries: f's value alone gives the shapes
            return _empty_jacobians(g(x), x, "jacfwd")
        flat, structure = _flatten(columns[0][0], "jacfwd")
        tangents = [_flatten(t, "jacfwd")[0] for _, t in columns]
        blocks = [_xp.reshape(_xp.stack([t[k] for t in tangents], axis=-1),
                              shape_of(o) + shape_of(x)) for k, o in enumerate(flat)]
        return blocks[0] if structure is None else _unflatten(structure, blocks)
    return wrapped


def jacrev(f: Callable, argnums: int = 0):
    """The Jacobian by reverse mode, one row per output entry; shape out.shape + in.shape
    (a tuple or list of such for several outputs).

    >>> ourad.jacrev(lambda v: xp.sum(v * v))(np.ones(3))   # [2, 2, 2]
    """
    def wrapped(*args):
        x = _check_float(args[argnums], "jacrev")
        y, back = vjp(_at(f, args, (argnums,)), x, _caller="jacrev")
        flat, structure = _flatten(y, "jacrev")
        zeros = [_zeros_like(o) for o in flat]
        blocks = []
        for k, o in enumerate(flat):
            rows = []
            for e in _basis(o):
                cts = zeros[:k] + [e] + zeros[k + 1:]
                rows.append(back(cts[0] if structure is None else _unflatten(structure, cts))[0])
            shape = shape_of(o) + shape_of(x)
            blocks.append(_xp.reshape(_xp.stack(rows, axis=0), shape) if rows else
                          np.zeros(shape, _float_dtype(o, x)))
        return blocks[0] if structure is None else _unflatten(structure, blocks)
    return wrapped


def hessian(f: Callable, argnums: int = 0):
    """The Hessian, forward over reverse: `jacfwd(grad(f))`.

    >>> ourad.hessian(lambda v: xp.sum(v ** 3))(np.ones(2))   # 6 I
    """
    return jacfwd(grad(f, argnums), argnums)
