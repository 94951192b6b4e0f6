"""ourad's core: primitives, the two traces (forward and reverse), and the transforms.

How it works, in the manner of Autodidax. Every operation is a `Primitive` applied with
`bind`. A value being differentiated is wrapped in a tracer that belongs to one *level*;
`bind` hands the operation to the trace of the highest level among its arguments, which
unwraps its own tracers, binds the primitive again one level down, and wraps the result:

- the forward trace (`JVPTracer`) carries a tangent next to each primal and pushes it through
  the primitive's JVP rule at once;
- the reverse trace (`VJPTracer`) appends a node to a tape; `vjp_fn` later walks the tape
  backwards, iteratively, accumulating cotangents with the primitive's VJP rules.

Rules call the operations of `ourad.xp`, so when the values they see are themselves tracers of
an outer level the rules are traced in turn: derivatives of derivatives come for free, and
because each transform opens a fresh level, nested perturbations never mix.

Every rule is split per input (one JVP function and one VJP function for each differentiable
argument). A reverse pass therefore evaluates only the cotangents of inputs that lie on a path
to what was asked for: differentiating an MLP with respect to its input alone runs no
weight-gradient products.
"""
from __future__ import annotations

import itertools
import numbers
from typing import Any, Callable, Sequence

import numpy as np

__all__ = ["Primitive", "bind", "jvp", "vjp", "grad", "value_and_grad", "jacfwd", "jacrev",
           "hessian", "count_flops", "Tracer"]


class Primitive:
    """One operation: its NumPy implementation, one JVP and one VJP rule per input, its flop
    count, a sampler of its domain and its kinks. Built by `ourad.rules.defrule`, which
    documents the fields; the traces read `jvp` and `vjp` at every use."""

    __slots__ = ("name", "impl", "jvp", "vjp", "partials", "flops", "sample", "kink")

    def __init__(self, name, impl, jvp, vjp, flops, sample=None, kink=None, partials=None):
        self.name, self.impl, self.jvp, self.vjp, self.flops = name, impl, jvp, vjp, flops
        self.sample, self.kink, self.partials = sample, kink, partials

    def __repr__(self):
        return f"Primitive({self.name})"

    def __call__(self, *args, **params):
        return bind(self, *args, **params)


# ---------------------------------------------------------------------------------------------
# Flop accounting: counted where a primitive actually runs on concrete values, so the count of
# a JVP or a VJP is the count of the work its rules really did.

_counters: list = []


class count_flops:
    """Count the floating-point operations of everything evaluated inside the block.

    >>> with count_flops() as c:
    ...     _ = ourad.grad(f)(x)
    >>> c.total, c.by_primitive["matmul"]
    """

    def __init__(self):
        self.by_primitive: dict[str, int] = {}
        self.calls: dict[str, int] = {}
        self.log: list[tuple] = []   # (primitive, flops, output shape), in execution order

    @property
    def total(self) -> int:
        return sum(self.by_primitive.values())

    def __enter__(self):
        _counters.append(self)
        return self

    def __exit__(self, *exc):
        _counters.remove(self)
        return False

    def _add(self, prim, out, args, params):
        n = int(prim.flops(out, *args, **params))
        self.by_primitive[prim.name] = self.by_primitive.get(prim.name, 0) + n
        self.calls[prim.name] = self.calls.get(prim.name, 0) + 1
        self.log.append((prim.name, n, shape_of(out)))


# ---------------------------------------------------------------------------------------------
# Tracers and traces

_live: dict[int, "_Trace"] = {}
_level_ids = itertools.count()


class ConcretizationTypeError(TypeError):
    """A traced value was turned into a plain number or array, which would silently drop its
    derivative (as JAX's error of the same name)."""


def _refuse(what):
    def refuse(self, *args, **kwargs):
        raise ConcretizationTypeError(
            f"ourad: {what} of a traced value ({type(self).__name__} of shape {self.shape}) "
            "would lose its derivative; use ourad.xp ops instead (xp.stop_gradient(x) for a "
            "value meant as a constant)")
    return refuse


class Tracer:
    """A value being differentiated. Operators dispatch to `ourad.xp`. Comparisons and
    `bool` look at the primal alone and give plain booleans, so `if x > 0` and
    `xp.where(x > 0, ...)` work on traced values; a conversion to a plain number or array
    would lose the derivative and raises `ConcretizationTypeError`."""

    __slots__ = ("level", "primal")
    __array_priority__ = 1000
    __array_ufunc__ = None  # make NumPy defer to our reflected operators

    shape = property(lambda self: np.shape(self.primal))
    dtype = property(lambda self: np.result_type(primal_of(self)))
    ndim = property(lambda self: np.ndim(self.primal))
    size = property(lambda self: np.size(self.primal))
    T = property(lambda self: _XP.matrix_transpose(self))

    def __len__(self):
        return len(self.primal)

    # arithmetic operators are installed by ourad.xp, which owns the primitives

    def __lt__(self, o): return primal_of(self) < primal_of(o)
    def __le__(self, o): return primal_of(self) <= primal_of(o)
    def __gt__(self, o): return primal_of(self) > primal_of(o)
    def __ge__(self, o): return primal_of(self) >= primal_of(o)
    def __eq__(self, o): return primal_of(self) == primal_of(o)
    def __ne__(self, o): return primal_of(self) != primal_of(o)
    __hash__ = object.__hash__

    def __bool__(self): return bool(primal_of(self))

    __float__ = _refuse("float() (math.* functions call it too)")
    __int__ = _refuse("int()")
    __index__ = _refuse("operator.index() (use as an index, a size or a range bound)")
    __complex__ = _refuse("complex()")
    __array__ = _refuse("a conversion to a NumPy array (np.asarray() or a NumPy function)")

    def __repr__(self):
        return f"{type(self).__name__}(level={self.level}, primal={primal_of(self)!r})"


_XP = None  # the module ourad.xp, set when it is imported
_CONCRETE = None  # its twins for concrete values only, (uncounted, counted): ourad.xp._Concrete


def _xp():
    return _XP


def primal_of(x):
    """The concrete value under any number of tracers."""
    while isinstance(x, Tracer):
        x = x.primal
    return x


class JVPTracer(Tracer):
    __slots__ = ("tangent",)

    def __init__(self, level, primal, tangent):
        self.level, self.primal, self.tangent = level, primal, tangent


class VJPTracer(Tracer):
    """A value on the tape. It is its own tape entry: the primitive that made it, that
    primitive's (unwrapped) inputs and parameters, its parents on the tape, and the cotangent
    the reverse pass accumulates."""
    __slots__ = ("prim", "args", "params", "parents", "ct")

    def __init__(self, level, primal, prim, args, params, parents):
        self.level, self.primal, self.prim, self.args, self.params, self.parents = (
            level, primal, prim, args, params, parents)
        self.ct = None

    @property
    def node(self):
        return self

    @property
    def out(self):
        return self.primal


class _Trace:
    def __init__(self):
        self.level = next(_level_ids)

    def __enter__(self):
        _live[self.level] = self
        return self

    def __exit__(self, *exc):
        del _live[self.level]
        return False

    def unwrap(self, args):
        lvl = self.level
        return [a.primal if isinstance(a, Tracer) and a.level == lvl else a for a in args]


class _JVPTrace(_Trace):
    def process(self, prim, args, params):
        lvl = self.level
        primals = self.unwrap(args)
        out = bind(prim, *primals, **params)
        t_out = None
        for i, a in enumerate(args):
            if isinstance(a, JVPTracer) and a.level == lvl:
                rule = prim.jvp[i] if prim.jvp is not None else None
                if rule is None:
                    raise NotImplementedError(
                        f"ourad: forward mode of '{prim.name}' with respect to argument {i}")
                t = rule(_xp(), a.tangent, out, *primals, **params)
                t_out = t if t_out is None else _xp().add(t_out, t)
        if t_out is None:  # only happens for primitives with no differentiable path
            return out
        if type(t_out) is not float and shape_of(t_out) != shape_of(out):
            t_out = _xp().broadcast_to(t_out, shape_of(out))
        return JVPTracer(lvl, out, t_out)


class _VJPTrace(_Trace):
    def __init__(self):
        super().__init__()
        self.tape: list[VJPTracer] = []
        self.dirty = False   # cotangents may be left on the tape (a kept or a failed walk)

    def process(self, prim, args, params):
        lvl = self.level
        primals, parents = [], []
        nested = False  # does any input still hold a tracer of an outer level?
        i = 0
        for a in args:
            if isinstance(a, Tracer):
                if a.level == lvl:
                    parents.append((i, a))
                    a = a.primal
                    nested = nested or isinstance(a, Tracer)
                else:
                    nested = True
            primals.append(a)
            i += 1
        if nested:
            out = bind(prim, *primals, **params)
        else:
            out = prim.impl(*primals, **params)
            if _counters:
                for c in _counters:
                    c._add(prim, out, primals, params)
        node = VJPTracer(lvl, out, prim, primals, params, parents)
        self.tape.append(node)
        return node

    def leaf(self, x):
        return VJPTracer(self.level, x, None, (), None, ())

    def backward(self, seeds, leaves, keep=False):
        """Walk the tape from its end, sending cotangents to parents; `seeds` are (node,
        cotangent) pairs of the outputs. The tape is in execution order, so its reverse is a
        topological order: no recursion, no sort. With `keep`, every node keeps its cotangent
        (for `ourad.trace`); else each is dropped once sent on. Returns the leaves' cotangents
        (None for a leaf no output depends on)."""
        # with no other transform live, every value the rules see is concrete
        xp = _CONCRETE[bool(_counters)] if len(_live) == 1 else _XP
        if self.dirty:
            for n in self.tape:
                n.ct = None
        self.dirty = True
        for n in leaves:
            n.ct = None
        for node, ct in seeds:
            node.ct = ct if node.ct is None else xp.add(node.ct, ct)
        for node in reversed(self.tape):
            g = node.ct
            if g is None:
                continue
            if not keep:
                node.ct = None  # free memory as we go
            prim, args, params, out = node.prim, node.args, node.params, node.primal
            vjps = prim.vjp
            for i, parent in node.parents:
                rule = vjps[i] if vjps is not None else None
                if rule is None:
                    raise NotImplementedError(
                        f"ourad: reverse mode of '{prim.name}' with respect to argument {i}")
                gi = rule(xp, g, out, *args, **params)
                if type(gi) is not float:
                    gi = unbroadcast(xp, gi, shape_of(args[i]))
                parent.ct = gi if parent.ct is None else xp.add(parent.ct, gi)
        self.dirty = keep
        return [n.ct for n in leaves]


def shape_of(x) -> tuple:
    """The shape of an array, a Python scalar or a tracer, without NumPy's overhead."""
    while isinstance(x, Tracer):
        x = x.primal
    if type(x) is np.ndarray:
        return x.shape
    return () if type(x) is float else np.shape(x)


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


def run_concrete(prim, *args, **params):
    return _run(prim, args, params)


def _run(prim, args, params):
    out = prim.impl(*args, **params)
    if _counters:
        for c in _counters:
            c._add(prim, out, args, params)
    return out


def bind(prim: Primitive, *args, **params):
    """Apply `prim`: on concrete values run its implementation, else hand it to the trace of
    the highest level among the arguments."""
    level = -1
    for a in args:
        if isinstance(a, Tracer) and a.level > level:
            level = a.level
    if level < 0:
        return _run(prim, args, params)
    trace = _live.get(level)
    if trace is None:
        raise RuntimeError(
            f"ourad: a tracer escaped the transform that made it (level {level}); "
            "return values from the differentiated function instead of storing them")
    return trace.process(prim, args, params)


# ---------------------------------------------------------------------------------------------
# Checking inputs

def _check_float(x, what, name="inputs"):
    """x as a real floating-point value, or a TypeError naming `what`, `name` and the dtype."""
    if type(x) is float or isinstance(x, Tracer):
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


def _check_cotangent(ct, out, what):
    if type(ct) is float and type(out) is float:   # the scalar case, first
        return ct
    if ct is None:
        raise TypeError(f"ourad.{what}: the cotangent is None; pass an array of shape "
                        f"{shape_of(out)}, the output's (e.g. ones for a gradient)")
    ct = _check_float(ct, what, "the cotangent")
    _same_shape(what, out, ct, "the cotangent")
    return ct


def _float_dtype(*values):
    dts = [np.result_type(primal_of(v)) for v in values]
    return next((dt for dt in dts if dt.kind == "f"), np.dtype(np.float64))


def _zeros_like(x):
    p = primal_of(x)
    return 0.0 if isinstance(p, float) else np.zeros(np.shape(p), _float_dtype(p))


def _ones_like(x):
    p = primal_of(x)
    return 1.0 if isinstance(p, float) else np.ones(np.shape(p), _float_dtype(p))


def _same_shape(what, expected, got, name):
    es, gs = shape_of(expected), shape_of(got)
    if es != gs:
        raise ValueError(f"ourad.{what}: {name} has shape {gs}, expected shape {es} "
                         "(the shape of the value it pairs with)")


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
    with _JVPTrace() as tr:
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
    tr = _VJPTrace()
    with tr:
        leaves = [tr.leaf(p) for p in primals]
        out = f(*leaves)
    if isinstance(out, VJPTracer) and out.level == tr.level:   # the common case, first
        structure, nodes, outs = None, [out], [out.primal]
    else:
        flat, structure = _flatten(out, _caller)
        nodes = [o if isinstance(o, VJPTracer) and o.level == tr.level else None for o in flat]
        outs = [o.primal if n is not None else o for o, n in zip(flat, nodes)]

    def vjp_fn(y_bar):
        cts = [y_bar] if structure is None else _match(structure, y_bar, _caller)
        cts = [_check_cotangent(ct, o, _caller) for ct, o in zip(cts, outs)]
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


def _argnums_tuple(argnums):
    return (argnums,) if isinstance(argnums, int) else tuple(argnums)


def value_and_grad(f: Callable, argnums=0):
    """`f`'s value and its gradient with respect to `argnums` (an int or a tuple), as JAX's.

    >>> ourad.value_and_grad(lambda x: x * x)(3.0)   # (9.0, 6.0)
    """
    nums = _argnums_tuple(argnums)

    def wrapped(*args):
        out, back = vjp(_at(f, args, nums), *[args[i] for i in nums], _caller="grad")
        if isinstance(out, (tuple, list)) or shape_of(out) != ():
            got = "a " + type(out).__name__ if isinstance(out, (tuple, list)) else \
                f"shape {shape_of(out)}"
            raise ValueError(f"ourad.grad: f must return a scalar, got {got}; use jacrev or vjp")
        cts = back(_ones_like(out))
        return out, (cts[0] if isinstance(argnums, int) else cts)

    return wrapped


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
        blocks = [_xp().reshape(_xp().stack([t[k] for t in tangents], axis=-1),
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
            blocks.append(_xp().reshape(_xp().stack(rows, axis=0), shape) if rows else
                          np.zeros(shape, _float_dtype(o, x)))
        return blocks[0] if structure is None else _unflatten(structure, blocks)
    return wrapped


def hessian(f: Callable, argnums: int = 0):
    """The Hessian, forward over reverse: `jacfwd(grad(f))`."""
    return jacfwd(grad(f, argnums), argnums)
