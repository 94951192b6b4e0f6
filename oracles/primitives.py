"""The primitives the catalogue uses, each checked alone: one table of their domains, cases
and kinks, and the claims `op-<name>` built from it (the generated "Primitives" section).

Which primitives: every op the catalogue's claims apply, found by recording each claim at a
drawn input (`oracles.wengert`), never a hand-kept list; a harness definition (relu, softmax,
...) counts, and so do the standard ops of its definition. How each is checked comes from
`OPS`: the domain of each argument (read from ourad's rule table where the op is there, as
`ourad.sampling` names them: "real", "positive", "nonzero", "above-1"), its cases (the
broadcasting of binary ops, the axes of reductions, matmul's vector and batch forms) and its
kinks with their subdifferential. An op the catalogue uses that the table lacks is checked at
the shapes and parameters the catalogue used it with.

A case is told apart by its input shapes: `f(xp, *arrays)` looks its parameters up by the
shapes it is handed, so one claim covers every case. Inputs are fixed points drawn once from
a seeded generator (at most 8: the `ci` profile draws each of them); the kink points come
first. `oracles.kinks` builds the report's table of values at the kinks from the same table.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from .claims import Claim, Kink
from .verdict import PRIMITIVES
from .wengert import INFIX, record

SECTION = PRIMITIVES
MAX_POINTS = 8

_BINARY = (((), ()), ((3,), (3,)), ((2, 3), (3,)), ((2, 3), (2, 1)), ((), (2, 2)),
           ((1, 3), (2, 1)))
_UNARY = (((),), ((3,),), ((2, 3),))


@dataclass(frozen=True)
class Op:
    """How one primitive is checked alone. `cases`: (shapes of the arguments, parameters);
    `domains`: one per argument (None: ourad's rule table says); `form`: "infix" (an
    operator), "call" (xp.<name>), "list" (xp.<name>([a, b], ...)) or "where" (its condition
    drawn as a number, taken > 0); `kinks`: (point, tangent, lo, hi, text), the tangent an
    argument's position or one weight per argument (`Kink.arg`); `probe`: the
    report's row at the kink, (text, f(xp, z) at z = 0, lo, hi)."""
    name: str
    form: str = "call"
    domains: tuple | None = None
    cases: tuple = ()
    kinks: tuple = ()
    probe: tuple | None = None


def _shapes(cases, params=None):
    return tuple((s, dict(params or {})) for s in cases)


_REDUCE = ((((4,),), {}), (((2, 3),), {"axis": 0}), (((2, 4),), {"axis": -1, "keepdims": True}),
           (((2, 3, 2),), {"axis": (0, 2)}), (((3, 2),), {"axis": None, "keepdims": True}))
# a tie of maximum (minimum): each input's derivative in [0, 1], and along both at once
# exactly 1, so only the subgradients (s, 1 - s) pass (not 1 for both, nor 0 for both)
_TIE = (((0.0, 0.0), 0, 0.0, 1.0, "a = b"), ((0.0, 0.0), 1, 0.0, 1.0, "a = b"),
        ((0.0, 0.0), (1.0, 1.0), 1.0, 1.0, "a = b, along (1, 1)"))
# a tie of max's entries 1 and 2: each tied entry's derivative in [0, 1], both together
# exactly 1, an entry below the maximum 0
_MAX_TIE = ((0.5, 1.0, 1.0, -0.3),)   # one input
_MAX_KINKS = ((_MAX_TIE, ((0.0, 1.0, 0.0, 0.0),), 0.0, 1.0, "x1 = x2 = max x"),
              (_MAX_TIE, ((0.0, 0.0, 1.0, 0.0),), 0.0, 1.0, "x1 = x2 = max x"),
              (_MAX_TIE, ((0.0, 1.0, 1.0, 0.0),), 1.0, 1.0,
               "x1 = x2 = max x, along e1 + e2"),
              (_MAX_TIE, ((1.0, 0.0, 0.0, 0.0),), 0.0, 0.0, "x1 = x2 = max x, along e0"))

OPS = {op.name: op for op in [
    *(Op(n, "infix", cases=_shapes(_BINARY)) for n in ("add", "subtract", "multiply", "divide",
                                                       "pow")),
    Op("negative", "infix", cases=_shapes(_UNARY)),
    *(Op(n, cases=_shapes(_UNARY)) for n in ("sin", "cos", "exp", "log", "tanh", "sqrt",
                                              "sigmoid")),
    Op("relu", cases=_shapes(_UNARY), kinks=(((0.0,), 0, 0.0, 1.0, "z = 0"),),
       probe=("relu(z) at z=0", lambda xp, z: xp.relu(z), 0.0, 1.0)),
    Op("maximum", cases=_shapes(_BINARY), kinks=_TIE,
       probe=("maximum(z, 0) at z=0", lambda xp, z: xp.maximum(z, 0.0 * z), 0.0, 1.0)),
    Op("minimum", cases=_shapes(_BINARY), kinks=_TIE,
       probe=("minimum(z, 0) at z=0", lambda xp, z: xp.minimum(z, 0.0 * z), 0.0, 1.0)),
    Op("abs", cases=_shapes(_UNARY), kinks=(((0.0,), 0, -1.0, 1.0, "x = 0"),),
       probe=("abs(z) at z=0", lambda xp, z: xp.abs(z), -1.0, 1.0)),
    Op("where", "where", ("nonzero", "real", "real"),
       _shapes((((3,), (3,), (3,)), ((2, 3), (2, 3), (3,)))),
       probe=("where(z >= 0, z, 0) at z=0", lambda xp, z: xp.where(z >= 0, z, 0.0 * z),
              0.0, 1.0)),
    Op("sum", domains=("real",), cases=_REDUCE),
    Op("max", domains=("real",), cases=_REDUCE, kinks=_MAX_KINKS,
       probe=("max([z, 0]) at z=0", lambda xp, z: xp.max(xp.stack([z, 0.0 * z])), 0.0, 1.0)),
    Op("softmax", domains=("real",),
       cases=((((3,),), {}), (((2, 3),), {"axis": 0}), (((2, 4),), {}))),
    Op("logsumexp", domains=("real",), cases=((((3,),), {}), (((2, 3),), {"axis": 0}))),
    Op("matmul", domains=("real", "real"), cases=_shapes(
        (((2, 3), (3, 4)), ((3,), (3, 2)), ((2, 3), (3,)), ((3,), (3,)), ((2, 2, 3), (3, 2))))),
    Op("matrix_transpose", domains=("real",), cases=_shapes((((2, 3),), ((2, 3, 4),)))),
    Op("stack", "list", ("real", "real"), ((((3,), (3,)), {}), (((2, 3), (2, 3)), {"axis": 1}))),
    Op("getitem", "infix", ("real",), ((((3,),), {"idx": 1}), (((4,),), {"idx": slice(1, 3)}),
                                       (((2, 3),), {"idx": (0, slice(None))}))),
]}


def apply(xp, op: Op, arrays, params):
    """The op applied to `arrays` as the catalogue writes it (operator, call, list, where)."""
    if op.form == "where":
        return xp.where(arrays[0] > 0, arrays[1], arrays[2])
    if op.form == "list":
        return getattr(xp, op.name)(list(arrays), **params)
    if op.form == "infix":
        if op.name == "getitem":
            return arrays[0][params["idx"]]
        return INFIX[op.name](*arrays)
    return getattr(xp, op.name)(*arrays, **params)


def _shape_key(arrays):
    return tuple(tuple(int(d) for d in np.shape(a)) for a in arrays)   # np.shape: mpf too


def formula(op: Op):
    """`f(xp, *arrays)`: the op alone, its parameters looked up by the inputs' shapes."""
    by_shape = {tuple(shapes): params for shapes, params in op.cases}

    def f(xp, *arrays):
        return apply(xp, op, arrays, by_shape[_shape_key(arrays)])
    f.__name__ = f"op_{op.name}"
    return f


def domains(op: Op, nargs: int) -> tuple:
    """The op's argument domains: the table's, else ourad's rule table's, else real."""
    if op.domains is not None:
        return op.domains
    from ourad.rules import RULES
    rule = RULES.get(op.name)
    found = getattr(getattr(rule, "sample", None), "domains", None)
    return tuple(found) if found and len(found) == nargs else ("real",) * nargs


def points(op: Op) -> list[tuple]:
    """The op's inputs: its kink points first, then one draw per case (seeded)."""
    from ourad.sampling import values
    rng = np.random.default_rng(sum(map(ord, op.name)))
    out = [tuple(np.asarray(v, np.float64) for v in pt)
           for pt in dict.fromkeys(pt for pt, *_ in op.kinks)]   # each kink point once
    for shapes, _ in op.cases:
        doms = domains(op, len(shapes))
        out.append(tuple(np.asarray(values(rng, d, s), np.float64) for d, s in zip(doms, shapes)))
    return out[:MAX_POINTS]


def _kink(pt, arg, lo, hi, text):
    def at(*arrays):
        return len(arrays) == len(pt) and all(
            np.shape(a) == np.shape(v) and bool(np.all(np.asarray(a) == v))
            for a, v in zip(arrays, pt))
    return Kink(at, lo, hi, arg=arg, text=text)


def expression(op: Op) -> str:
    names = ["a", "b", "c"][:len(op.cases[0][0])] if op.cases else ["x"]
    if op.form == "infix" and op.name in ("getitem", "negative"):
        return "x[i]" if op.name == "getitem" else "-x"
    if op.form == "infix":
        return f" {dict(add='+', subtract='-', multiply='*', divide='/', pow='**')[op.name]} "\
            .join(names)
    if op.form == "where":
        return "where(a > 0, b, c)"
    if op.form == "list":
        return f"{op.name}([{', '.join(names)}])"
    return f"{op.name}({', '.join(names)})"


def claim(op: Op) -> Claim:
    """The claim `op-<name>`: the op alone over its cases and at its kinks, both modes."""
    from hypothesis import strategies as st
    pts = points(op)
    cases = "; ".join(" with ".join(filter(None, [
        " and ".join(str(s) for s in shapes),
        ", ".join(f"{k}={v!r}" for k, v in params.items())])) for shapes, params in op.cases)
    kinks = "; at " + ", ".join(dict.fromkeys(k[4] for k in op.kinks)) if op.kinks else ""
    return Claim(id=f"op-{op.name}", section=SECTION,
                 printed=f"{expression(op)}, the primitive {op.name} alone",
                 f=formula(op), domain=st.sampled_from(pts),
                 kinks=tuple(_kink(*k) for k in op.kinks), examples=len(pts),
                 reading=f"generated: every primitive the catalogue applies, checked alone, in "
                         f"both modes. Input shapes: {cases}{kinks}")


def used_ops(claims) -> dict[str, list]:
    """Every op the claims apply (definitions and their insides), each with the steps that
    apply it: each claim recorded at the first input its domain draws."""
    from .harness import draw_inputs
    used: dict[str, list] = {}

    def walk(steps):
        for s in steps:
            used.setdefault(s.op, []).append(s)
            walk(s.children)
    with warnings.catch_warnings():   # drawn while pytest collects the catalogue
        warnings.simplefilter("ignore")
        for c in claims:
            if c.f is None or c.domain is None:
                continue
            x = draw_inputs(c, 1)[0]
            walk(record(c.f, [np.asarray(a, np.float64) for a in x]).top)
    return used


def from_usage(name: str, steps) -> Op:
    """An op the table lacks, checked at the smallest shapes the catalogue applied it to."""
    small = sorted(steps, key=lambda s: sum(np.size(v) for _, v in s.slots()))[0]
    shapes = tuple(np.shape(v) for _, v in small.slots())
    form = "list" if any(isinstance(a, tuple) for a in small.args) else small.form
    return Op(name, form, cases=((shapes, dict(small.params)),))


_SECTION: dict = {}


def section(claims) -> list[Claim]:
    """The Primitives section: `op-<name>` for every op `claims` use, in name order."""
    key = tuple(c.id for c in claims)
    if key not in _SECTION:
        used = used_ops(claims)
        _SECTION[key] = [claim(OPS.get(name) or from_usage(name, used[name]))
                         for name in sorted(used)]
    return _SECTION[key]


def kink_probes() -> list[tuple]:
    """(text, f(xp, z), z, (lo, hi)) of every op with a probe: the report's kink table."""
    return [(op.probe[0], op.probe[1], 0.0, (op.probe[2], op.probe[3]))
            for op in OPS.values() if op.probe]


__all__ = ["OPS", "Op", "SECTION", "claim", "section", "used_ops", "kink_probes", "formula",
           "apply"]
