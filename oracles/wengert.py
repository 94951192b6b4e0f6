"""The Wengert list of a claim's evaluation: every primitive application, recorded over NumPy.

A claim is a program written against `xp`. Run with a `Recorder` as its namespace and its
inputs wrapped in `Traced` values, it lists each primitive it applies in program order: the
op's standard name ("divide" for a / b), its parameters (axis, keepdims, ...), its argument
values and its output. Operators on arrays are caught by the `Traced` wrapper (a + b records
"add"; 2.0 * x records "multiply" with a constant first argument), names of the namespace by
the recorder. A name the harness defines beyond the standard (relu, sigmoid, softmax,
logsumexp: `oracles.namespace.DEFINED`) is recorded as one step holding, inside it, the
standard ops of its definition, so that an engine with its own relu is asked about relu and
one without about the maximum it falls back to (`Program.steps(has)`).

Only what depends on the inputs is recorded; comparisons give plain boolean arrays, as in
every engine. A `Program` replays its steps through any engine's namespace (`replay`), whole,
one step alone (`alone`) or up to a step (`prefix`).

>>> p = record(lambda xp, a, b: xp.sin(a / b) * b, [np.array(1.5), np.array(0.5)])
>>> [s.op for s in p.steps()]
['divide', 'sin', 'multiply']
"""
from __future__ import annotations

import functools
import operator
from dataclasses import dataclass, field

import numpy as np

from .namespace import DEFINED, std

INFIX = {"add": operator.add, "subtract": operator.sub, "multiply": operator.mul,
         "divide": operator.truediv, "pow": operator.pow, "matmul": operator.matmul,
         "negative": operator.neg, "abs": operator.abs, "getitem": operator.getitem}
SYMBOL = {"add": "+", "subtract": "-", "multiply": "*", "divide": "/", "pow": "**",
          "matmul": "@"}


class RecordingError(TypeError):
    """The claim's program does something a recording cannot follow (e.g. np.* on a traced
    value, which would drop its dependence on the inputs)."""


@dataclass(frozen=True)
class Ref:
    """An argument that is an earlier value of the program (an input or a step's output)."""
    id: int


@dataclass
class Step:
    """One primitive application. `args` holds `Ref`s where a traced value went in and the
    constants as they were; `form` is "infix" (an operator), or "call" (xp.<op>)."""
    index: int                 # 1, 2, ... in program order (inputs are 1-n .. 0)
    op: str
    form: str
    args: tuple
    params: dict
    inputs: list               # the argument values, constants included
    out: np.ndarray
    id: int                    # the id later steps refer to this output by
    children: list = field(default_factory=list)   # a definition's standard ops

    def slots(self) -> list[tuple[int, np.ndarray]]:
        """(argument position, value) of every traced argument: the op's differentiable
        inputs, each its own input when the op is checked alone."""
        out = []
        for pos, (a, v) in enumerate(zip(self.args, self.inputs)):
            if isinstance(a, Ref):
                out.append((pos, v))
            elif isinstance(a, (list, tuple)):
                out += [(pos, vv) for aa, vv in zip(a, v) if isinstance(aa, Ref)]
        return out

    def text(self, names: dict | None = None) -> str:
        """"v_3 = v_1 / v_2", with `names` mapping ids to "v_k" (`Program.names`)."""
        names = [_name(a, names or {}) for a in self.args]
        if self.form == "infix" and len(names) == 2 and self.op in SYMBOL:
            body = f"{names[0]} {SYMBOL[self.op]} {names[1]}"
        else:
            body = f"{self.op}({', '.join(names + [f'{k}={v!r}' for k, v in self.params.items()])})"
        return f"v_{self.index} = {body}"


def _name(a, names):
    if isinstance(a, Ref):
        return names.get(a.id, f"v[{a.id}]")
    if isinstance(a, (list, tuple)):
        return "[" + ", ".join(_name(x, names) for x in a) + "]"
    return f"{float(a):g}" if np.ndim(a) == 0 and not isinstance(a, bool) else \
        f"array{np.shape(a)}"


class Traced:
    """A value of the recorded program; operators on it record their op."""
    __slots__ = ("value", "id", "rec")
    __array_ufunc__ = None     # ndarray + Traced defers to Traced.__radd__

    def __init__(self, value, id_, rec):
        self.value, self.id, self.rec = value, id_, rec

    shape = property(lambda self: np.shape(self.value))
    ndim = property(lambda self: np.ndim(self.value))
    dtype = property(lambda self: np.asarray(self.value).dtype)
    size = property(lambda self: np.size(self.value))

    def __array__(self, *a, **k):
        raise RecordingError("a traced value was converted to a NumPy array (np.* on it?)")

    def __float__(self):
        raise RecordingError("a traced value was converted to a float")

    def __getitem__(self, idx):
        return self.rec.apply("getitem", "infix", (self, _plain(idx)), {})

    def __len__(self):
        return len(self.value)

    def __bool__(self):
        return bool(self.value)

    def __repr__(self):
        return f"Traced({self.value!r})"


def _binop(op, reflected=False):
    if reflected:
        return lambda self, other: self.rec.apply(op, "infix", (other, self), {})
    return lambda self, other: self.rec.apply(op, "infix", (self, other), {})


for _op in ("add", "subtract", "multiply", "divide", "pow", "matmul"):
    _dunder = {"subtract": "sub", "multiply": "mul", "divide": "truediv"}.get(_op, _op)
    setattr(Traced, f"__{_dunder}__", _binop(_op))
    setattr(Traced, f"__r{_dunder}__", _binop(_op, reflected=True))
Traced.__neg__ = lambda self: self.rec.apply("negative", "infix", (self,), {})
Traced.__abs__ = lambda self: self.rec.apply("abs", "infix", (self,), {})
for _cmp in ("lt", "le", "gt", "ge", "eq", "ne"):
    setattr(Traced, f"__{_cmp}__",
            lambda self, other, _f=getattr(operator, _cmp): _f(self.value, _plain(other)))


def _plain(x):
    if isinstance(x, Traced):
        return x.value
    if isinstance(x, (list, tuple)):
        return type(x)(_plain(v) for v in x)
    return x


def _template(x):
    if isinstance(x, Traced):
        return Ref(x.id)
    if isinstance(x, (list, tuple)):
        return tuple(_template(v) for v in x)
    return x


def _traced(x) -> bool:
    if isinstance(x, Traced):
        return True
    return isinstance(x, (list, tuple)) and any(_traced(v) for v in x)


class Recorder:
    """The namespace a claim is recorded with: NumPy's standard names (`oracles.fd.xp`), the
    harness's definitions recorded with their insides, every application kept."""

    def __init__(self, base=None):
        if base is None:
            from .fd import xp as base
        self._base, self._next = base, 0
        self._stack: list[list] = [[]]
        self._count = 0

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        if name in DEFINED:
            return functools.partial(self._defined, name)
        fn = getattr(self._base, name)
        if not callable(fn) or isinstance(fn, type):
            return fn
        return lambda *args, **params: self.apply(name, "call", args, params, fn=fn)

    def new_id(self) -> int:
        self._next += 1
        return self._next - 1

    def apply(self, op, form, args, params, fn=None):
        """Apply `op` to `args`; record it when a traced value goes in and a float comes out."""
        if any(_traced(v) for v in params.values()):
            raise RecordingError(f"{op}: a traced value passed by keyword")
        if fn is None:
            fn = INFIX[op] if form == "infix" else getattr(self._base, op)
        value = fn(*_plain(args), **params)
        if not _traced(args) or np.asarray(value).dtype.kind != "f":
            return value
        return self._push(op, form, args, params, value, self.new_id(), [])

    def _push(self, op, form, args, params, value, id_, children):
        self._count += 1
        step = Step(0, op, form, _template(args), dict(params), _inputs(args),
                    np.asarray(value, np.float64), id_, children)
        self._stack[-1].append(step)
        return Traced(value, id_, self)

    def _defined(self, name, *args, **params):
        self._stack.append([])
        try:
            out = DEFINED[name](self, *args, **params)
        finally:
            children = self._stack.pop()
        if not isinstance(out, Traced):
            return out
        return self._push(name, "call", args, params, out.value, out.id, children)


def _inputs(args):
    return [[np.asarray(v, np.float64) for v in _plain(a)] if isinstance(a, (list, tuple))
            else (np.asarray(_plain(a), np.float64) if isinstance(a, Traced) else a)
            for a in args]


@dataclass
class Program:
    """A recorded evaluation: its inputs and its steps (a definition's step holds its
    standard ops as children)."""
    inputs: list
    top: list
    output: int | None         # the id of the output, None when it does not depend on x

    def steps(self, has=lambda name: True) -> list[Step]:
        """The steps as an engine evaluates them: a harness definition whose name the engine
        lacks (`has(name)` false) is replaced by its standard ops. Numbered 1, 2, ..."""
        out = []

        def walk(steps):
            for s in steps:
                if s.children and not has(s.op):
                    walk(s.children)
                else:
                    out.append(s)
        walk(self.top)
        return [Step(k, s.op, s.form, s.args, s.params, s.inputs, s.out, s.id, s.children)
                for k, s in enumerate(out, start=1)]

    def names(self, steps: list[Step]) -> dict:
        """id -> "v_k" for the inputs (v_{1-n} .. v_0) and `steps` (v_1, v_2, ...)."""
        n = len(self.inputs)
        out = {i: f"v_{i + 1 - n}" for i in range(n)}
        out.update({s.id: f"v_{s.index}" for s in steps})
        return out

    def ops(self) -> set[str]:
        """Every op name the program applies, definitions and their insides."""
        names = set()

        def walk(steps):
            for s in steps:
                names.add(s.op)
                walk(s.children)
        walk(self.top)
        return names


def record(f, x) -> Program:
    """The Wengert list of `f(xp, *x)` at the arrays `x`."""
    rec = Recorder()
    ins = [Traced(np.asarray(a, np.float64), rec.new_id(), rec) for a in x]
    out = f(rec, *ins)
    return Program([np.asarray(a, np.float64) for a in x], rec._stack[0],
                   out.id if isinstance(out, Traced) else None)


def call_step(xp, step: Step, args):
    """Apply a step's op to `args` (the engine's values) through the engine's namespace."""
    if step.form == "infix":
        return INFIX[step.op](*args, **step.params)
    return getattr(xp, step.op)(*args, **step.params)


def _fill(template, env):
    if isinstance(template, Ref):
        return env[template.id]
    if isinstance(template, tuple):
        return [_fill(t, env) for t in template]
    return template


def replay(xp, steps, inputs, env, upto=None):
    """Run `steps` with the engine's namespace; `env` maps ids to values (the inputs)."""
    for s in steps:
        env[s.id] = call_step(xp, s, [_fill(a, env) for a in s.args])
        if s.id == upto:
            break
    return env


_ALONE: dict = {}


def alone(step: Step):
    """`g(xp, *slot_values)`: the step's op applied alone, its traced arguments as inputs and
    its constants as recorded, seeing the standard names (`oracles.namespace.std`). One
    function per distinct call, so engines that compile per function (JAX) compile each once."""
    key = (step.op, step.form, _signature(step.args), repr(sorted(step.params.items())))
    g = _ALONE.get(key)
    if g is None:
        def g(xp, *vals):
            it = iter(vals)

            def fill(t):
                if isinstance(t, Ref):
                    return next(it)
                if isinstance(t, tuple):
                    return [fill(a) for a in t]
                return t
            return call_step(xp, step, [fill(a) for a in step.args])
        g = _ALONE[key] = std(g)
    return g


def _signature(t):
    if isinstance(t, Ref):
        return "*"
    if isinstance(t, tuple):
        return tuple(_signature(a) for a in t)
    if isinstance(t, np.ndarray):
        return ("array", t.shape, t.tobytes())
    return repr(t)


def prefix(program: Program, steps: list[Step], upto: int):
    """`g(xp, *inputs)`: the program run through the engine's namespace (standard names) up
    to the step whose id is `upto`, returning its value."""
    def g(xp, *x):
        env = dict(zip(range(len(x)), x))
        return replay(xp, steps, x, env, upto)[upto]
    return std(g)
