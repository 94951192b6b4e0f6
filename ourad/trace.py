"""The evaluation trace (Wengert list) of a function, as the notes' forward-mode table shows it.

The inputs are numbered v_{1-n} .. v_0 and every primitive applied after them v_1, v_2, ...;
each entry carries its op, its inputs, its primal, its tangent (for the seed `tangents`) and
its adjoint (for the cotangent `cotangent`, default 1), computed with the rule table.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import xp as _xp
from .core import VJPTrace, VJPTracer
from .primitive import primal_of
from .transforms import _check_float

_INFIX = {"add": "+", "subtract": "-", "multiply": "×", "divide": "/", "pow": "^"}


@dataclass
class Entry:
    index: int            # -1, 0 for the inputs of a two-input function; 1, 2, ... after
    op: str               # "input" or the primitive's name
    args: list            # "v_{k}" names, or constants as printed
    primal: Any
    tangent: Any = None
    adjoint: Any = None
    params: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"v_{{{self.index}}}" if self.index < 0 else f"v_{self.index}"

    @property
    def expression(self) -> str:
        if self.op == "input":
            return self.args[0]
        if self.op in _INFIX and len(self.args) == 2:
            return f"{self.args[0]} {_INFIX[self.op]} {self.args[1]}"
        return f"{self.op}({', '.join(self.args)})"


@dataclass
class Trace:
    entries: list
    output: Any

    def entry(self, index: int) -> Entry:
        return next(e for e in self.entries if e.index == index)

    def __str__(self):
        rows = [("", "expression", "primal", "tangent", "adjoint")]
        for e in self.entries:
            rows.append((e.name, f"= {e.expression}", _fmt(e.primal), _fmt(e.tangent),
                         _fmt(e.adjoint)))
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


def _fmt(v):
    if v is None:
        return ""
    v = primal_of(v)
    if np.ndim(v) == 0:
        return f"{float(v):.3f}"
    return np.array2string(np.asarray(v), precision=3)


def trace(f, *primals, tangents=None, cotangent=None, names=None) -> Trace:
    """Record f's evaluation trace at `primals`, with tangents along `tangents` (default: the
    first input's unit seed) and adjoints of `cotangent` (default: ones like the output).

    >>> t = ourad.trace(lambda a, b: a * b + a, 1.5, 0.5)
    >>> print(t)
    """
    n = len(primals)
    if tangents is None:
        tangents = tuple((1.0 if i == 0 else 0.0) * np.ones_like(np.asarray(p))
                         if not isinstance(p, float) else (1.0 if i == 0 else 0.0)
                         for i, p in enumerate(primals))
    names = list(names) if names is not None else [f"x_{i + 1}" for i in range(n)]
    tr = VJPTrace()
    with tr:
        ins = [tr.leaf(_check_float(p, "trace")) for p in primals]
        out = f(*ins)
    index = {}
    entries = []
    for k, (leaf, t, nm) in enumerate(zip(ins, tangents, names)):
        index[id(leaf)] = k + 1 - n
        entries.append(Entry(k + 1 - n, "input", [nm], leaf.primal, t))
    tangent_of = {id(leaf): t for leaf, t in zip(ins, tangents)}
    for j, node in enumerate(tr.tape, start=1):
        index[id(node)] = j
        parents = {i: p for i, p in node.parents}
        args = [f"v_{{{index[id(parents[i])]}}}" if i in parents else _const(a)
                for i, a in enumerate(node.args)]
        t = None
        for i, p in node.parents:
            ti = node.prim.jvp[i](_xp, tangent_of[id(p)], node.primal, *node.args,
                                 **node.params)
            t = ti if t is None else _xp.add(t, ti)
        tangent_of[id(node)] = t
        entries.append(Entry(j, node.prim.name, args, node.primal, t, params=dict(node.params)))
    if isinstance(out, VJPTracer) and out.level == tr.level:
        y_bar = np.ones_like(out.primal) if cotangent is None else cotangent
        with tr:
            tr.backward([(out, y_bar)], ins, keep=True)
        nodes = ins + tr.tape
        for e, node in zip(entries, nodes):
            e.adjoint = node.ct
        out = out.primal
    return Trace(entries, out)


def _const(a):
    a = primal_of(a)
    return f"{float(a):g}" if np.ndim(a) == 0 else f"array{np.shape(a)}"
