"""Shrinking: the simplest input at which a subject's failing check still fails.

A claim's record keeps its worst drawn input, which Hypothesis drew to explore the domain, not
to be read: 1.2308953846598798 where 2.0 fails alike. For each `subject-defect` of a subject's
`jvp`, `vjp` or `value` check, Hypothesis shrinks that input with its own shrinker, the
predicate being the same check (`oracles.checks.derivatives.derivative`, and `value`) on the
same engine at the candidate input: it fails while the category is still `subject-defect`.

Hypothesis shrinks only what it generated itself, so the input is found by drawing again:
the drawing of the run (`oracles.harness.given_domain`) runs once more with the shrink phase
on and the draw's seed (`CI_SEED` under `ci`, the one a randomized draw kept), so it meets
the run's inputs in the run's order. Those at which the run's check passed count as
passing, unchecked; the first at which it failed (the record's own input, or an earlier one
that failed less badly) is checked again and, when it still fails, shrunk. Should the draw
ever differ from the run's, every input it meets is checked, within the same budget; where
no check fails, nothing is reported as shrunk.

Each predicate call establishes the reference at the candidate (only for the mode the check
asks) and calls the subject once. The budget counts these calls, `--ad-shrink` (default
`SHRINK_CALLS`), so a `ci` run gives the same shrunk input every time; candidates
met again are answered from memory, free, and once the budget is spent every new candidate
counts as passing, which ends Hypothesis's shrinking at the simplest failure found so far.
`SHRINK_SECONDS` per record is a safety net only (a subject slow at every call): when it cuts
a shrink short, the record says so, and that record may differ between runs.

The candidates' tangents and cotangent are drawn as for a claim's first input
(`numpy.random.default_rng(seed)`), the shrunk point's snippet prints them. Timed-out calls
are not shrunk (each candidate would cost the time limit). Records of oracles, of the notes
and of the harness are never shrunk.
"""
from __future__ import annotations

import time

import numpy as np

from .reproduce import SHRINK_CALLS

SHRINK_SECONDS = 120.0      # per record; a safety net, not the budget (see above)
CHECKS = ("jvp", "vjp", "value")
TIMED_OUT = "timed out after"

__all__ = ["shrink_records", "wanted", "SHRINK_CALLS", "SHRINK_SECONDS"]


def wanted(rec) -> bool:
    """Whether a record is shrunk: a subject's defect of a derivative or value check in
    float64 (the predicate is float64's check), made at a drawn point, whose failure is not
    a timeout."""
    return (rec.category == "subject-defect" and rec.subject and rec.check in CHECKS
            and rec.dtype == "float64"
            and getattr(rec, "_at", None) is not None and not rec.detail.startswith(TIMED_OUT))


def shrink_records(run, records, points) -> None:
    """Set `shrunk` on every record `wanted`, or say in its detail why there is none."""
    budget = run.harness.options.shrink
    if not budget or run.claim.domain is None or run.f is None:
        return
    for rec in records:
        if not wanted(rec):
            continue
        try:
            why = shrink(run, rec, points, budget)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001 -- the record stands without it
            rec.shrunk, why = None, f"{type(exc).__name__}: {exc}"
        if why:
            rec.detail = (rec.detail + "\n" if rec.detail else "") + f"not shrunk: {why}"


class _Fails(Exception):
    """The body's way of telling Hypothesis that the check failed at this input."""


class Search:
    """The predicate, with its memory and its budget, and Hypothesis's test body around it."""

    def __init__(self, run, rec, points, budget: int, seconds: float | None = None):
        seconds = SHRINK_SECONDS if seconds is None else seconds
        self.run, self.rec, self.budget = run, rec, budget
        self.engine = {e.name: e for e in run.harness.subjects}[rec.engine]
        self.kind = getattr(rec, "_kind", rec.check)
        self.drawn = [[np.asarray(a, np.float64) for a in p] for p in points]
        self.target = rec._at.index
        self.known = set(getattr(rec, "_failing", ())) | {self.target}   # failed in the run
        self.seconds, self.deadline = seconds, time.monotonic() + seconds
        self.memo: dict = {}            # input -> (fails, record, point)
        self.calls, self.met, self.replaying, self.found = 0, 0, True, False
        self.stopped = ""               # why new candidates count as passing
        self.error = ""                 # the harness failed at a candidate

    def body(self, x) -> None:
        x = [np.asarray(a, np.float64) for a in x]
        if not self.found:              # still drawing: the run's inputs, in the run's order
            i, self.met = self.met, self.met + 1
            self.replaying = self.replaying and i < len(self.drawn) and _same(x, self.drawn[i])
            if self.replaying and i < self.target and i not in self.known:
                return                  # passed in the run: passing here too, unchecked
        if self.fails(x):
            self.found = True
            raise _Fails(x)

    def fails(self, x) -> bool:
        key = tuple((a.shape, a.tobytes()) for a in x)
        if key in self.memo:
            return self.memo[key][0]
        if self.stopped:
            return False
        if self.calls >= self.budget:
            self.stopped = f"its budget of {self.budget} checks was spent"
            return False
        if time.monotonic() > self.deadline:
            self.stopped = f"its time cap of {self.seconds:g} s was reached"
            return False
        self.calls += 1
        try:
            rec, point = check_at(self.run, self.engine, self.rec.check, self.kind, x)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001 -- not a failure of the subject
            self.error = self.stopped = f"{type(exc).__name__}: {exc}"
            return False
        if rec is not None and rec.detail.startswith(TIMED_OUT):
            self.stopped = "a check timed out"
            rec = None
        failing = rec is not None and rec.category == "subject-defect"
        self.memo[key] = (failing, rec, point)
        return failing


def check_at(run, eng, check, kind, x):
    """The record `check` gives for `eng` at `x` (None where it does not apply: a kink), and
    the point it was made at: the reference for `kind` alone, tangents as a first input's."""
    from .checks.derivatives import derivative, value
    h = run.harness
    point = h.point(run, x, np.random.default_rng(h.seed), True, kinds=(kind,))
    if point.kinks:
        return None, point
    rec, answered = derivative(run, eng, point, kind)
    if check == "value":
        rec = value(run, eng.name, kind, answered[0], point, answered[1]) if answered \
            else None
    return rec, point


def shrink(run, rec, points, budget: int) -> str:
    """Shrink one record's input; "" when `rec.shrunk` is set, else why not."""
    from hypothesis import Phase
    from .harness import Drawn, examples_of, given_domain, seed_of
    opts = run.harness.options
    if isinstance(points, Drawn):
        n, seed = points.n, points.seed
    else:        # inputs from elsewhere: drawn as the run's options draw, then searched
        n, seed = examples_of(run.claim, opts.examples, opts.profile), seed_of(opts.profile)
    search = Search(run, rec, points, budget)
    found = None
    try:
        given_domain(run.claim, n, seed, [Phase.generate, Phase.shrink], search.body)
    except _Fails as exc:
        found = exc.args[0]
    if search.error:
        return f"the check could not be run at a candidate: {search.error}"
    if found is None and search.stopped:
        return f"stopped before the check failed again ({search.calls} checks; {search.stopped})"
    if found is None:
        return f"the check did not fail again at any input drawn ({search.calls} checks)"
    _, srec, spoint = search.memo[tuple((a.shape, a.tobytes()) for a in found)]
    rec.shrunk = _summary(found, srec, search)
    if rec.check != "value":
        old = run.snippet(rec.engine, rec._at, search.kind)
        note = (f"at the shrunk input (drawn: {_short(rec._at.inputs)}); tangents and "
                "cotangent as for a first input")
        new = run.snippet(rec.engine, spoint, search.kind, note=note)
        rec.detail = rec.detail.replace(old, new) if old in rec.detail else \
            (rec.detail + "\n" if rec.detail else "") + new
    return ""


def _summary(x, srec, search) -> dict:
    from .harness import summarize
    small = sum(a.size for a in x) <= 256
    return {"inputs": [summarize(a) for a in x],
            "x": [a.tolist() for a in x] if small else None,
            "values": srec.values, "max_abs_error": srec.max_abs_error,
            "max_rel_error": srec.max_rel_error, "tolerance": srec.tolerance,
            "checks": search.calls, "budget": search.budget,
            "is_drawn": _same(x, search.drawn[search.target]) if search.drawn else False,
            "complete": not search.stopped, "stopped": search.stopped}


def _short(inputs) -> str:
    from .verdict import short
    return ", ".join(short(v, digits=17) for v in inputs)


def _same(x, y) -> bool:
    return len(x) == len(y) and all(a.shape == b.shape and np.array_equal(a, b)
                                    for a, b in zip(x, y))
