"""Checks 5 and 6, once per claim: every value printed in the notes against the computed
value, to the printed precision (half a unit in the last printed place), and every statement
in words (cost, shapes) against measured numbers. A `compute` or `measure` that raises or
returns something that is not a number is the claim file's fault; an engine that cannot
answer makes the record inconclusive."""
from __future__ import annotations

import math

import numpy as np

from ..calls import call, fmt
from ..verdict import NOTES


def applies(claim) -> bool:
    return bool(claim.values or claim.statements)


def run(run):
    for p in run.claim.values:
        yield _printed(run, p)
    for st in run.claim.statements:
        yield _statement(run, st)


def _fault_record(run, check, fault, what):
    c = run.claim
    if fault.kind == "unsupported":
        return run.record(NOTES, check, "inconclusive", detail=f"could not {what}: "
                                                               f"{fault.message}")
    return run.record(NOTES, check, "claim-error",
                      detail=f"{c.source}: claim {c.id!r}: {check}: could not {what}: "
                             f"{fault.message}")


def _printed(run, p):
    check = f"printed: {p.label}"
    ctx = run.harness.context
    val, fault = call(p.compute, ctx)
    if fault is not None:
        return _fault_record(run, check, fault, "compute")
    try:
        if isinstance(val, bool) or not isinstance(float(val), float):
            raise TypeError
        val = float(val)
    except (TypeError, ValueError):
        return run.record(NOTES, check, "claim-error",
                          detail=f"{run.claim.source}: claim {run.claim.id!r}: {check}: "
                                 f"compute returned {val!r:.80}, not a number")
    if not math.isfinite(val):
        return run.record(NOTES, check, "inconclusive",
                          detail=f"{p.label}: the computed value is {fmt(val)}")
    diff = abs(val - p.value)
    tol = p.half_ulp + 1e-12
    return run.record(
        NOTES, check, "agree" if diff <= tol else "notes-erratum",
        max_abs_error=diff, max_rel_error=diff / abs(val) if val else diff, tolerance=tol,
        reference=getattr(ctx.reference, "name", None),
        values={"printed": p.text, "computed": val},
        detail=f"{p.label}: printed {p.text}, computed {fmt(val)} "
               f"(half a unit of the printed last place: {p.half_ulp:g})")


def _statement(run, st):
    check = f"{st.kind}: {st.label}"
    measured, fault = call(st.measure, run.harness.context)
    if fault is not None:
        return _fault_record(run, check, fault, "measure")
    ok, fault = call(st.holds, measured)
    if fault is not None:
        return _fault_record(run, check, fault, "decide")
    if not isinstance(ok, (bool, np.bool_)):
        return run.record(NOTES, check, "claim-error",
                          detail=f"{run.claim.source}: claim {run.claim.id!r}: {check}: holds "
                                 f"returned {ok!r:.80}, not a truth value")
    return run.record(NOTES, check, "agree" if ok else "notes-erratum",
                      values={"printed": st.text, "measured": measured},
                      detail=f"the notes say {st.text!r}; measured {measured}"
                             + (f". Reading: {st.reading}" if st.reading else ""))
