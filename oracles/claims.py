"""The claim model: what a formula of the notes asserts, as code the harness can check.

A claim file is a Python module that defines `CLAIMS`, a list of `Claim`. Each claim names a
function `f(xp, *arrays)` written once against the namespace it is handed, the domain its
inputs are drawn from (a Hypothesis strategy of a tuple of arrays), its kinks, and what the
notes assert about it, transcribed literally:

- `notes_vjp(xp, y_bar, *arrays) -> tuple` or `notes_jvp(xp, tangents, *arrays) -> array`:
  a derivative formula as printed (a tuple entry may be None: the formula says nothing of it);
- `values`: printed numbers (`Printed`), each checked to the precision it was printed with;
- `statements`: statements in words (`Statement`, `Cost` for cost), checked against
  measured numbers;
- `probe=True` marks a claim outside a condition the notes state or imply: its failures are
  findings for the report, never a gate failure.

>>> Claim(id="chain-sin-exp", section="Chain Rule Review", printed=r"y'(x) = f'(g(x)) g'(x)",
...       f=lambda xp, x: xp.sin(xp.exp(x)), domain=scalars(-2, 2),
...       notes_jvp=lambda xp, t, x: xp.cos(xp.exp(x)) * xp.exp(x) * t[0])
"""
from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

CATALOGUE = Path(__file__).resolve().parent / "catalogue"   # the notes' claim modules


@dataclass(frozen=True)
class Kink:
    """Where `at(*arrays)` is true the function is not differentiable; its derivative along
    a tangent may be any value in [lo, hi] (what the subdifferential gives along it). The
    tangent is `arg`: an input's position (that input all ones, the others zero), or one
    weight per input, a number (that input all that number) or an array of its shape (a
    direction of its entries). Several kinks may hold at one point, one per tangent: the
    tie of maximum(a, b) is [0, 1] along a, [0, 1] along b and [1, 1] along (1, 1), which
    together allow exactly the subgradients (s, 1 - s)."""
    at: Callable
    lo: float
    hi: float
    arg: int | tuple = 0
    text: str = ""

    def tangent(self, x) -> list:
        """The tangent at the point `x` (one array per input); ValueError where `arg` does
        not fit the inputs (a position out of range, a weight per input missing or not
        finite, or nothing but zeros, along which nothing would be checked)."""
        if isinstance(self.arg, (int, np.integer)):
            if not -len(x) <= self.arg < len(x):
                raise ValueError(f"input {self.arg} of {len(x)}")
            k = self.arg % len(x)
            t = [np.ones_like(a, np.float64) if j == k else np.zeros_like(a, np.float64)
                 for j, a in enumerate(x)]
        else:
            t = [np.broadcast_to(np.asarray(w, np.float64), np.shape(a)).astype(np.float64)
                 for w, a in zip(self.arg, x, strict=True)]
        if not all(np.all(np.isfinite(w)) for w in t) or not any(np.any(w) for w in t):
            raise ValueError("the weights must be finite and not all zero")
        return t


@dataclass(frozen=True)
class Printed:
    """A value printed in the notes, as printed ("3.012"); `compute(ctx)` gives the value
    the notes mean, computed by the reference engine (`ctx.reference`).

    The text must be a finite decimal number ("3.012", "-1.980", "2.5e-3"); "nan", "inf" and
    words are refused when the claim file is loaded. It is checked to half a unit of its last
    printed place ("3.012": 0.0005; "2.5e-3": 0.00005; "40": 0.5)."""
    label: str
    text: str
    compute: Callable

    def _decimal(self):
        from decimal import Decimal, InvalidOperation
        try:
            d = Decimal(str(self.text).strip().replace("\u2212", "-"))
        except (InvalidOperation, TypeError, ValueError):
            raise ValueError(f"printed value {self.label!r}: {self.text!r} is not a "
                             "number") from None
        if not d.is_finite():
            raise ValueError(f"printed value {self.label!r}: {self.text!r} is not a finite "
                             "number")
        return d

    @property
    def value(self) -> float:
        return float(self._decimal())

    @property
    def half_ulp(self) -> float:
        return 0.5 * 10.0 ** self._decimal().as_tuple().exponent


@dataclass(frozen=True)
class Statement:
    """A statement of the notes in words (about cost, shapes, behaviour). `measure(ctx)`
    returns the measured numbers (a dict); `holds(measured)` says whether the statement, as we
    read it, is true of them. `kind` is "cost" for statements about cost."""
    label: str
    text: str
    measure: Callable
    holds: Callable
    reading: str = ""
    kind: str = "statement"


def Cost(label, text, measure, holds, reading=""):
    """A statement about cost (evaluations, flops, which gradients need which)."""
    return Statement(label, text, measure, holds, reading, kind="cost")


@dataclass
class Claim:
    id: str
    section: str
    printed: str
    f: Callable | None = None
    domain: Any = None                  # a Hypothesis strategy of a tuple of arrays
    kinks: tuple = ()
    notes_vjp: Callable | None = None
    notes_jvp: Callable | None = None
    values: tuple = ()
    statements: tuple = ()
    condition: str = ""
    reading: str = ""
    probe: bool = False
    examples: int | None = None         # at most this many drawn inputs (None: the profile's)
    jacobian: bool = True               # check full Jacobians when small
    source: str = ""                    # the file the claim came from

    def __post_init__(self):
        if not self.id or any(c.isspace() for c in self.id):
            raise ValueError(f"claim id {self.id!r}: must be non-empty, without spaces")
        if self.f is not None and self.domain is None:
            raise ValueError(f"claim {self.id}: a function needs a domain to draw from")
        if (self.notes_vjp or self.notes_jvp) and self.f is None:
            raise ValueError(f"claim {self.id}: a derivative formula needs the function f")


# --- domains ----------------------------------------------------------------------------------

def scalars(*bounds, include=()):
    """A strategy of a tuple of 0-d float64 arrays, one per (lo, hi) pair; `include` lists
    points (tuples) that are always tried first, e.g. a kink."""
    from hypothesis import strategies as st
    pairs = [bounds[i:i + 2] for i in range(0, len(bounds), 2)]
    base = st.tuples(*[st.floats(lo, hi, allow_nan=False, allow_infinity=False)
                       for lo, hi in pairs])
    strategy = base.map(lambda xs: tuple(np.asarray(x, float) for x in xs))
    if include:
        fixed = st.sampled_from([tuple(np.asarray(x, float) for x in p) for p in include])
        strategy = st.one_of(fixed, strategy)
    return strategy


def arrays(*shapes, lo=-2.0, hi=2.0):
    """A strategy of a tuple of float64 arrays of the given shapes, entries in [lo, hi]."""
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp
    elems = st.floats(lo, hi, allow_nan=False, allow_infinity=False, width=64)
    return st.tuples(*[hnp.arrays(np.float64, s, elements=elems) for s in shapes])


def seeded(make):
    """A strategy whose tuple of arrays comes from `make(rng)`, rng seeded by Hypothesis: for
    large inputs (a network's weights) that Hypothesis need not shrink entry by entry."""
    from hypothesis import strategies as st
    return st.integers(0, 2**32 - 1).map(lambda s: tuple(make(np.random.default_rng(s))))


# --- claim files ------------------------------------------------------------------------------

class ClaimFileError(Exception):
    """A claim file that cannot be used; the message names the file (and claim)."""


def _module_name(path: Path) -> str:
    path = path.resolve()
    if path.parent == CATALOGUE:      # the installed catalogue: its modules' own names
        return f"oracles.catalogue.{path.stem}"
    return f"_ad_claims_{abs(hash(str(path)))}"


def loaded_module(path):
    """The claim file's module as the catalogue already loaded it in this process (its caches
    included), else loaded now."""
    return sys.modules.get(_module_name(Path(path))) or load_module(path)


def load_module(path):
    """Import a claim file as a module; errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise ClaimFileError(f"{path}: no such claim file")
    name = _module_name(path)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    try:
        sys.modules[name] = module
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        sys.modules.pop(name, None)
        raise ClaimFileError(f"{path}:{exc.lineno}: syntax error: {exc.msg}") from exc
    except BaseException as exc:  # noqa: BLE001 -- SystemExit in a claim file too
        sys.modules.pop(name, None)
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise ClaimFileError(f"{path}: {type(exc).__name__}: {exc}") from exc
    return module


def load_file(path) -> list[Claim]:
    """The claims of one file, each tagged with its source; clear errors name the file."""
    path = Path(path)
    module = load_module(path)
    claims = getattr(module, "CLAIMS", None)
    if not isinstance(claims, (list, tuple)) or not all(isinstance(c, Claim) for c in claims):
        raise ClaimFileError(f"{path}: must define CLAIMS, a list of oracles.claims.Claim")
    try:
        source = str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        source = str(path.resolve())
    for c in claims:
        c.source = source
        validate(c)
    return list(claims)


def _arity(fn):
    """(least, most) positional arguments `fn` takes; most is None for *args."""
    import inspect
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    least, most = 0, 0
    for p in sig.parameters.values():
        if p.kind == p.VAR_POSITIONAL:
            most = None
        elif p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            if most is not None:
                most += 1
            if p.default is p.empty:
                least += 1
    return least, most


def _takes(fn, n) -> bool:
    a = _arity(fn)
    return a is None or (a[0] <= n and (a[1] is None or n <= a[1]))


def validate(c: Claim) -> None:
    """What can be told wrong of a claim before anything runs: arities of the transcribed
    formulas against f's, printed values that are not numbers, kinks that are not Kinks.
    Raises ClaimFileError naming the file and the claim."""
    where = f"{c.source}: claim {c.id!r}"
    problems = []
    fa = _arity(c.f) if c.f is not None else None
    if fa is not None and fa[1] is not None:
        n_arrays = fa[0] - 1          # f(xp, *arrays): required arguments (defaults are
                                      # bound loop variables, not arrays)
        for name, fn in (("notes_jvp", c.notes_jvp), ("notes_vjp", c.notes_vjp)):
            if fn is not None and not _takes(fn, 2 + n_arrays):
                problems.append(f"{name} must take (xp, {'tangents' if name == 'notes_jvp' else 'y_bar'}"
                                f", *arrays) = {2 + n_arrays} arguments for f's "
                                f"{n_arrays} array(s); its signature takes "
                                f"{_arity(fn)[0]}" + ("" if _arity(fn)[1] == _arity(fn)[0]
                                                      else f" to {_arity(fn)[1]}"))
    for name, fn in (("f", c.f), ("notes_jvp", c.notes_jvp), ("notes_vjp", c.notes_vjp)):
        if fn is not None and not callable(fn):
            problems.append(f"{name} is not callable")
    for p in c.values:
        if not isinstance(p, Printed):
            problems.append(f"values must hold Printed, not {type(p).__name__}")
            continue
        try:
            p.value
        except ValueError as exc:
            problems.append(str(exc))
        if not callable(p.compute):
            problems.append(f"printed value {p.label!r}: compute is not callable")
    for k in c.kinks:
        if not isinstance(k, Kink) or not callable(k.at):
            problems.append("kinks must hold Kink(at=callable, lo, hi)")
        elif not k.lo <= k.hi:
            problems.append(f"kink {k.text!r}: lo {k.lo} > hi {k.hi}")
        elif not isinstance(k.arg, (int, np.integer, tuple)):
            problems.append(f"kink {k.text!r}: arg must be an input's position or a tuple of "
                            f"one weight per input, not {type(k.arg).__name__}")
    for st in c.statements:
        if not isinstance(st, Statement):
            problems.append(f"statements must hold Statement or Cost, not {type(st).__name__}")
    if problems:
        raise ClaimFileError(f"{where}: " + "; ".join(problems))


def catalogue_files() -> list[Path]:
    """The section modules of the installed catalogue, in order."""
    files = sorted(CATALOGUE.glob("sec_*.py"))
    if not files:
        raise ClaimFileError(f"{CATALOGUE}: the catalogue has no section modules (sec_*.py); "
                             "the installation is incomplete")
    return files


def load_catalogue(extra=()) -> list[Claim]:
    """Every claim of the notes catalogue (oracles/catalogue/sec_*.py), then those of `extra`
    files; ids must be unique across all of them. An empty catalogue is an error."""
    claims = []
    for path in catalogue_files():
        claims += load_file(path)
    if not claims:
        raise ClaimFileError(f"{CATALOGUE}: the catalogue holds no claims")
    for path in extra:
        claims += load_file(path)
    seen = {}
    for c in claims:
        if c.id in seen:
            raise ClaimFileError(f"{c.source}: claim id {c.id!r} already defined in "
                                 f"{seen[c.id]}")
        seen[c.id] = c.source
    return claims


def find_claim(claim_id: str, extra=()) -> Claim:
    """One claim by id (the reproduction snippets of the report use this)."""
    for c in load_catalogue(extra):
        if c.id == claim_id:
            return c
    raise KeyError(claim_id)
