"""ourad's two traces: forward (`JVPTracer`) and reverse (`VJPTracer`, a tape walked backwards).

How it works, in the manner of Autodidax. Every operation is a `Primitive` applied with `bind`
(`ourad.primitive`), which hands it to the trace of the highest level among its arguments. A
trace unwraps its own tracers, binds the primitive again one level down, and wraps the result:

- the forward trace carries a tangent next to each primal and pushes it through the
  primitive's JVP rule at once;
- the reverse trace appends a node to a tape; `backward` later walks the tape backwards,
  iteratively, accumulating cotangents with the primitive's VJP rules.

A value of the reverse trace (a `VJPTracer`) is its own entry on the tape, except where the
tape should hold less than the function does. A tape recorded to be walked once, right away
(`grad` and `value_and_grad`), is *lean*: an entry keeps only the large values its VJP rules
read, as each rule declares (`needs`, set in `ourad.rules`), and the shape and dtype of the
others (`Absent`); an entry that drops a value is a separate `Node`, so that a matmul's output
or a bias sum is freed as soon as the function lets go of it rather than at the end of the
reverse pass. A rule is read from the table at every use: one that declares
nothing reads everything, so nothing is dropped for it, and a rule changed between the
recording and the walk that would read a dropped value is refused with an error, never fed a
placeholder.

Rules call the operations of `ourad.xp`, so when the values they see are themselves tracers of
an outer level the rules are traced in turn: derivatives of derivatives come for free, and
because each transform opens a fresh level, nested perturbations never mix.

Every rule is split per input (one JVP function and one VJP function for each differentiable
argument). A reverse pass therefore evaluates only the cotangents of inputs that lie on a path
to what was asked for: differentiating an MLP with respect to its input alone runs no
weight-gradient products. The transforms built on these traces are in `ourad.transforms`.
"""
from __future__ import annotations

from operator import attrgetter

from numpy import ndarray

from . import xp as _xp
from .primitive import Tracer, bind, counters, live, new_level, shape_of
from .rules import RULES, unbroadcast
from .xp import CONCRETE, CONCRETE_COUNTED, ArrayOps

__all__ = ["JVPTracer", "VJPTracer", "Node", "Absent", "RuleReadsDroppedValue", "JVPTrace",
           "VJPTrace"]


class JVPTracer(ArrayOps, Tracer):
    __slots__ = ("tangent",)

    def __init__(self, level, primal, tangent):
        self.level, self.primal, self.tangent = level, primal, tangent


class VJPTracer(ArrayOps, Tracer):
    """A value on the tape. It is its own tape entry: the primitive that made it, that
    primitive's (unwrapped) inputs and parameters, its parents on the tape (`(input position,
    entry)` pairs) and the cotangent the reverse pass accumulates. Where a lean tape drops
    some of those values, the entry is a separate `Node` instead, `entry` is that node, and
    the tracer holds its primal alone."""
    __slots__ = ("prim", "args", "params", "parents", "ct", "entry")
    dropped = None   # an entry of its own keeps every value

    def __init__(self, level, primal, prim, args, params, parents):
        self.level, self.primal, self.prim, self.args, self.params, self.parents = (
            level, primal, prim, args, params, parents)
        self.ct = self.entry = None


class Node:
    """A tape entry apart from its value (see `VJPTracer`); `dropped` names the values it did
    not keep, input positions and "y" for the output (`primal`), each an `Absent`."""
    __slots__ = ("prim", "args", "params", "primal", "parents", "ct", "dropped")

    def __init__(self, prim, args, params, primal, parents, dropped):
        self.prim, self.args, self.params, self.primal, self.parents, self.dropped = (
            prim, args, params, primal, parents, dropped)
        self.ct = None


class Absent:
    """A value a lean tape did not keep: its shape and dtype, which `unbroadcast` and the
    rules that declared they read no more may look at. Its value cannot be read: NumPy and
    Python's operators refuse it."""
    __slots__ = ("shape", "dtype")
    __array_ufunc__ = None

    def __init__(self, shape, dtype):
        self.shape, self.dtype = shape, dtype

    ndim = property(lambda self: len(self.shape))

    def __array__(self, *args, **kwargs):
        raise TypeError("ourad: a value the tape did not keep was read")

    # Python's own defaults would answer these without reading a value (`absent == 0` is
    # False, `bool(absent)` True): a rule that compares a dropped value must fail instead.
    __eq__ = __ne__ = __bool__ = __len__ = __iter__ = __float__ = __int__ = __index__ = \
        __array__
    __hash__ = object.__hash__

    def __repr__(self):
        return f"Absent(shape={self.shape}, dtype={self.dtype})"


class RuleReadsDroppedValue(RuntimeError):
    """A VJP rule would read a value its tape did not keep: the rule that runs is not the one
    the tape was recorded for (it was changed while the function was being differentiated)."""


# Values below this size are always kept: they cost less to keep than to drop.
DROP_BYTES = 1 << 18


def _large(values):
    for v in values:
        if type(v) is ndarray and v.nbytes >= DROP_BYTES:
            return True
    return False


def _drop(t):
    """Make the tape entry of tracer `t` lean: where none of its VJP rules (the rules of its
    parents' positions, read from the table now) declares it reads a large array among its
    inputs and output, its entry becomes a `Node` with an `Absent` in that array's place. A
    rule without a declaration keeps everything."""
    vjps = t.prim.vjp
    if vjps is None:
        return
    needs = None
    for i, _ in t.parents:
        n = getattr(vjps[i], "needs", None)
        if n is None:
            return
        needs = n if needs is None else needs | n
    out = t.primal
    if type(out) is ndarray and out.nbytes >= DROP_BYTES and "y" not in needs:
        out, dropped = Absent(out.shape, out.dtype), ("y",)
    else:
        dropped = ()
    args = t.args
    kept = None
    for j, a in enumerate(args):
        if type(a) is ndarray and a.nbytes >= DROP_BYTES and j not in needs:
            if kept is None:
                kept = list(args)
            kept[j] = Absent(a.shape, a.dtype)
            dropped += (j,)
    if dropped:
        t.entry = Node(t.prim, args if kept is None else tuple(kept), t.params, out, t.parents,
                       dropped)
        t.prim = t.args = t.params = t.parents = None   # the tracer keeps its primal alone


def _check_reads(node):
    """Refuse to walk a node whose rules (read from the table now, as the walk will) may read
    one of the values it dropped."""
    prim, dropped = node.prim, node.dropped
    vjps = prim.vjp
    for i, _ in node.parents:
        rule = vjps[i] if vjps is not None else None
        needs = getattr(rule, "needs", None)
        if rule is None or needs is not None and not any(d in needs for d in dropped):
            continue   # (no rule: the walk raises its own error)
        what = ", ".join("its output" if d == "y" else f"input {d}" for d in dropped)
        raise RuleReadsDroppedValue(
            f"ourad: the reverse rule of '{prim.name}' with respect to argument {i} may read "
            f"values the tape did not keep ({what}): the rule that runs is not the one the "
            "tape was recorded for. Change rules before differentiating, not inside the "
            "function; ourad.vjp's tape keeps every value.")


_ct = attrgetter("ct")
_NO_PARAMS: dict = {}   # shared by every node without parameters; never written to


def _operator(prim, si):
    """`s <op> o` (`o <op> s` when `si` is 1) for a tracer `s` of the reverse trace: the
    common case of an operator, recorded without going through `bind`. Anything unusual (no
    live trace, a tracer of another level, a nested value) takes the general path."""
    def op(s, o):
        lvl = s.level
        tr = live.get(lvl)
        a = s.primal
        if tr is None or isinstance(a, Tracer):
            return bind(prim, s, o) if si == 0 else bind(prim, o, s)
        if isinstance(o, Tracer):
            if o.level != lvl or isinstance(o.primal, Tracer):
                return bind(prim, s, o) if si == 0 else bind(prim, o, s)
            args = (a, o.primal) if si == 0 else (o.primal, a)   # both ours
            parents = ((0, s.entry or s), (1, o.entry or o)) if si == 0 else \
                ((0, o.entry or o), (1, s.entry or s))
        elif si == 0:
            args, parents = (a, o), ((0, s.entry or s),)
        else:
            args, parents = (o, a), ((1, s.entry or s),)
        out = prim.impl(*args)
        if counters:
            for c in counters:
                c._add(prim, out, args, _NO_PARAMS)
        node = VJPTracer(lvl, out, prim, args, _NO_PARAMS, parents)
        if type(out) is ndarray and tr.lean:   # (not an array: a float, or a vector dot)
            x0, x1 = args
            if out.nbytes >= DROP_BYTES or type(x0) is ndarray and x0.nbytes >= DROP_BYTES or \
                    type(x1) is ndarray and x1.nbytes >= DROP_BYTES:
                _drop(node)
                tr.tape.append(node.entry or node)
                return node
        tr.tape.append(node)
        return node
    return op


def _operators(name):
    prim = RULES[name]
    return _operator(prim, 0), _operator(prim, 1)


# The reverse trace's operators record directly (the forward trace's go through `bind`).
for _dunder, _name in (("add", "add"), ("sub", "subtract"), ("mul", "multiply"),
                       ("truediv", "divide"), ("pow", "pow"), ("matmul", "matmul")):
    _fwd, _rev = _operators(_name)
    setattr(VJPTracer, f"__{_dunder}__", _fwd)
    setattr(VJPTracer, f"__r{_dunder}__", _rev)


class _Trace:
    def __init__(self):
        self.level = new_level()

    def __enter__(self):
        live[self.level] = self
        return self

    def __exit__(self, *exc):
        del live[self.level]
        return False


class JVPTrace(_Trace):
    def process(self, prim, args, params):
        lvl = self.level
        primals = [a.primal if isinstance(a, Tracer) and a.level == lvl else a for a in args]
        out = bind(prim, *primals, **params)
        t_out = None
        for i, a in enumerate(args):
            if isinstance(a, JVPTracer) and a.level == lvl:
                rule = prim.jvp[i] if prim.jvp is not None else None
                if rule is None:
                    raise NotImplementedError(
                        f"ourad: forward mode of '{prim.name}' with respect to argument {i}")
                t = rule(_xp, a.tangent, out, *primals, **params)
                t_out = t if t_out is None else _xp.add(t_out, t)
        if t_out is None:  # only happens for primitives with no differentiable path
            return out
        if type(t_out) is not float and shape_of(t_out) != shape_of(out):
            t_out = _xp.broadcast_to(t_out, shape_of(out))
        return JVPTracer(lvl, out, t_out)


class VJPTrace(_Trace):
    """A reverse trace and its tape. A `lean` tape (for a single walk right after the
    recording) keeps only what its rules read; see the module's documentation."""

    def __init__(self, lean=False):
        self.level = new_level()
        self.tape: list[Node] = []
        self.lean = lean
        self.dirty = False   # cotangents may be left on the tape (a kept or a failed walk)

    def process(self, prim, args, params):
        lvl = self.level
        if len(args) == 1 and not isinstance(args[0].primal, Tracer):
            # one input, so it is ours (bind chose its level): the unary ops' common case
            s = args[0]
            x = s.primal
            primals = (x,)
            out = prim.impl(x, **params) if params else prim.impl(x)
            parents = ((0, s.entry or s),)
            large = type(out) is not float and (   # (a float came from a float)
                type(out) is ndarray and out.nbytes >= DROP_BYTES or
                type(x) is ndarray and x.nbytes >= DROP_BYTES)
        else:
            primals, parents, nested = self._unwrap(args)
            if nested:   # the inner level runs it, and counts its flops; every value kept
                out = bind(prim, *primals, **params)
                node = VJPTracer(lvl, out, prim, primals, params, parents)
                self.tape.append(node)
                return node
            out = prim.impl(*primals, **params)
            large = type(out) is ndarray and out.nbytes >= DROP_BYTES or _large(primals)
        if counters:
            for c in counters:
                c._add(prim, out, primals, params)
        node = VJPTracer(lvl, out, prim, primals, params, parents)
        if large and self.lean:   # the values are concrete here
            _drop(node)
            self.tape.append(node.entry or node)
        else:
            self.tape.append(node)
        return node

    def _unwrap(self, args):
        """The inputs' values one level down, the tape's parents among them, and whether any
        value still holds a tracer of an outer level."""
        lvl = self.level
        primals, parents = [], []
        nested = False
        for i, a in enumerate(args):
            if isinstance(a, Tracer):
                if a.level == lvl:
                    parents.append((i, a.entry or a))
                    a = a.primal
                    nested = nested or isinstance(a, Tracer)
                else:
                    nested = True
            primals.append(a)
        return primals, parents, nested

    def leaf(self, x):
        return VJPTracer(self.level, x, None, (), None, ())

    def backward(self, seeds, leaves, keep=False, release=False):
        """Walk the tape from its end, sending cotangents to parents; `seeds` are (node,
        cotangent) pairs of the outputs' tape entries (`t.entry or t` for a tracer t). The tape
        is in execution order, so its reverse is a topological order: no recursion, no sort.
        With `keep`, every node keeps its cotangent (for `ourad.trace`); else each is dropped
        once sent on. With `release` (the last walk of this tape) a node also drops its values
        once its rules have run, so memory is freed as the walk goes. Returns the leaves'
        cotangents (None for a leaf no output depends on)."""
        # with no other transform live, every value the rules see is concrete
        xp = (CONCRETE_COUNTED if counters else CONCRETE) if len(live) == 1 else _xp
        plain = xp is CONCRETE   # float cotangents may then be summed with `+`
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
            if node.dropped is not None:
                _check_reads(node)
            for i, parent in node.parents:
                rule = vjps[i] if vjps is not None else None
                if rule is None:
                    raise NotImplementedError(
                        f"ourad: reverse mode of '{prim.name}' with respect to argument {i}")
                gi = rule(xp, g, out, *args, **params) if params else rule(xp, g, out, *args)
                if type(gi) is not float:
                    a = args[i]   # unbroadcast is looked up here, at every use
                    if type(gi) is not ndarray or type(a) is not ndarray or gi.shape != a.shape:
                        gi = unbroadcast(xp, gi, shape_of(a))   # (an Absent's shape too)
                ct = parent.ct
                if ct is None:
                    parent.ct = gi
                elif plain and type(ct) is float and type(gi) is float:
                    parent.ct = ct + gi
                else:
                    parent.ct = xp.add(ct, gi)
            if release:
                node.args = node.primal = None
        self.dirty = keep
        return list(map(_ct, leaves))
