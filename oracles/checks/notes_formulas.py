"""Check 4: the notes' own derivative formula, transcribed literally as `notes_jvp` or
`notes_vjp`, against the reference. A transcription that cannot be evaluated or answers in the
wrong form is the claim file's fault ("claim-error"), never an erratum of the notes."""
from __future__ import annotations

import numpy as np

from ..calls import Malformed, call, to_float64
from ..fd import xp as np_xp
from ..reference import Reference
from ..verdict import NOTES


def applies(claim, point) -> bool:
    return (claim.notes_jvp is not None or claim.notes_vjp is not None) and not point.kinks


def run(run, point):
    from ..harness import compare
    claim = run.claim
    for kind, formula, w in (("jvp", claim.notes_jvp, point.v), ("vjp", claim.notes_vjp,
                                                                   point.u)):
        if formula is None:
            continue
        ref = point.ref[kind]
        check = f"notes-{kind}"
        if not ref.ok:
            yield run.record(NOTES, check, "inconclusive", inputs=point.inputs, detail=ref.why)
            continue
        res, fault = call(formula, np_xp, w, *point.x)
        if fault is not None:
            yield _claim_error(run, check, point, f"notes_{kind} raised {fault.message}")
            continue
        try:
            got, keep = _shape(kind, res, point)
        except (ValueError, Malformed) as exc:
            yield _claim_error(run, check, point, str(exc))
            continue
        if kind == "vjp":   # entries the formula says nothing of (None) are not compared
            ref = Reference(kind, ref.out, tuple(ref.derivative[i] for i in keep), ref.source,
                            ref.agreed, floor=ref.floor)
        rec = compare(run, NOTES, check, got, ref, point, "notes-erratum",
                      detail=f"the notes' formula, as printed: {claim.printed}")
        yield rec


def _shape(kind, res, point):
    """The formula's answer, flat, and (for a VJP) which inputs it speaks of."""
    if kind == "jvp":
        a = to_float64(res, "notes_jvp's answer")
        if a.shape != point.out.shape:
            raise ValueError(f"notes_jvp returned shape {a.shape}; f's output has shape "
                             f"{point.out.shape}")
        return a.ravel(), None
    if not isinstance(res, (tuple, list)) or len(res) != len(point.x):
        n = len(res) if isinstance(res, (tuple, list)) else type(res).__name__
        raise ValueError(f"notes_vjp must return one entry per input ({len(point.x)}), "
                         f"None where the formula says nothing; got {n}")
    keep, parts = [], []
    for i, r in enumerate(res):
        if r is None:
            continue
        a = to_float64(r, f"notes_vjp's entry {i}")
        if a.shape != np.shape(point.x[i]):
            raise ValueError(f"notes_vjp's entry {i} has shape {a.shape}; input {i} has "
                             f"shape {np.shape(point.x[i])}")
        keep.append(i)
        parts.append(a.ravel())
    return (np.concatenate(parts) if parts else np.zeros(0)), keep


def _claim_error(run, check, point, message):
    c = run.claim
    return run.record(NOTES, check, "claim-error", inputs=point.inputs,
                      detail=f"{c.source}: claim {c.id!r}: {message}")
