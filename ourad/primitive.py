"""ourad's primitives and tracing: `Primitive`, the `Tracer` base class, `bind`, flop counting.

Every operation is a `Primitive` applied with `bind`. A value being differentiated is wrapped in
a tracer that belongs to one *level* (one live transform); `bind` hands the operation to the
trace of the highest level among its arguments (`ourad.core` holds the two kinds of trace),
or, when no argument is traced, runs the primitive's NumPy implementation at once and counts
its flops. This module imports nothing of ourad: the rule table, the namespace and the traces
are built on it.
"""
from __future__ import annotations

import itertools

import numpy as np

__all__ = ["Primitive", "Tracer", "ConcretizationTypeError", "bind", "run", "primal_of",
           "shape_of", "count_flops", "live", "new_level"]


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

counters: list = []


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
        counters.append(self)
        return self

    def __exit__(self, *exc):
        counters.remove(self)
        return False

    def _add(self, prim, out, args, params):
        n = int(prim.flops(out, *args, **params))
        self.by_primitive[prim.name] = self.by_primitive.get(prim.name, 0) + n
        self.calls[prim.name] = self.calls.get(prim.name, 0) + 1
        self.log.append((prim.name, n, shape_of(out)))


# ---------------------------------------------------------------------------------------------
# Tracers

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
    """A value being differentiated. `ourad.xp.ArrayOps` gives it Python's operators.
    Comparisons and `bool` look at the primal alone and give plain booleans, so `if x > 0`
    and `xp.where(x > 0, ...)` work on traced values; a conversion to a plain number or array
    would lose the derivative and raises `ConcretizationTypeError`."""

    __slots__ = ("level", "primal")
    __array_priority__ = 1000
    __array_ufunc__ = None  # make NumPy defer to our reflected operators

    shape = property(lambda self: shape_of(self.primal))
    dtype = property(lambda self: np.result_type(primal_of(self)))
    ndim = property(lambda self: len(shape_of(self.primal)))
    size = property(lambda self: int(np.prod(shape_of(self.primal))))

    def __len__(self):
        return len(self.primal)

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


def primal_of(x):
    """The concrete value under any number of tracers."""
    while isinstance(x, Tracer):
        x = x.primal
    return x


def shape_of(x) -> tuple:
    """The shape of an array, a Python scalar or a tracer, without NumPy's overhead."""
    while isinstance(x, Tracer):
        x = x.primal
    if type(x) is np.ndarray:
        return x.shape
    return () if type(x) is float else np.shape(x)


# ---------------------------------------------------------------------------------------------
# Levels and bind

live: dict = {}            # level -> its trace, while the transform that opened it runs
new_level = itertools.count().__next__   # a fresh level for each transform


def run(prim: Primitive, *args, **params):
    """Run `prim` on concrete values, counting its flops in every open `count_flops`."""
    out = prim.impl(*args, **params)
    if counters:
        for c in counters:
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
        out = prim.impl(*args, **params)
        if counters:
            for c in counters:
                c._add(prim, out, args, params)
        return out
    trace = live.get(level)
    if trace is None:
        raise RuntimeError(
            f"ourad: a tracer escaped the transform that made it (level {level}); "
            "return values from the differentiated function instead of storing them")
    return trace.process(prim, args, params)
