"""At a non-differentiable point the claim declares (a kink), every engine's derivative along
the kink's tangent (`Kink.tangent`: one input, or a direction over all of them) must lie in
what the subdifferential allows there, [lo, hi]: inside, the record says which value the
engine chose ("kink-convention"); outside, it is a defect of the subject (or a disagreement
of an oracle). The JVP is asked along the tangent; the VJP's gradient (cotangent all ones)
is projected on it. The notes' own formula is held to the same interval."""
from __future__ import annotations

import math

import numpy as np

from ..calls import Fault, call, fmt, has_mode, to_float64
from ..fd import xp as np_xp
from ..verdict import NOTES


def applies(claim, point) -> bool:
    return bool(point.kinks)


def run(run, point):
    h = run.harness
    for kink, v in zip(point.kinks, point.tangents, strict=True):
        u = np.ones_like(point.out)
        for eng in list(h.subjects) + list(h.oracles.values()):
            is_subject = eng.name in h.subject_names
            for kind, w in (("jvp", v), ("vjp", u)):
                if not has_mode(eng, kind):
                    continue
                ans, names, fault = run.ask(eng, kind, point.x, w, point.out.shape)
                if fault is not None:
                    cat = fault.category if is_subject else "unsupported"
                    yield run.record(eng.name, f"kink-{kind}", cat, inputs=point.inputs,
                                     detail=fault.message, namespace=names)
                    continue
                d = float(np.sum(ans[1])) if kind == "jvp" else \
                    float(sum(np.sum(b * t) for b, t in zip(ans[1], v)))
                bad = "subject-defect" if is_subject else "oracle-disagreement"
                yield _kink_record(run, eng.name, f"kink-{kind}", d, kink, point, bad, names)
        if run.claim.notes_jvp is not None:
            res, fault = call(run.claim.notes_jvp, np_xp, v, *point.x)
            if fault is None:
                try:
                    d = float(np.sum(to_float64(res, "the notes' formula")))
                except Exception as exc:  # noqa: BLE001
                    fault = Fault("malformed", str(exc))
            if fault is not None:
                yield run.record(NOTES, "notes-kink", "claim-error", inputs=point.inputs,
                                 detail=f"{run.claim.source}: claim {run.claim.id!r}: notes_jvp "
                                        f"cannot be evaluated at the kink: {fault.message}")
            else:
                yield _kink_record(run, NOTES, "notes-kink", d, kink, point, "notes-erratum",
                                   [])


def _kink_record(run, engine, check, d, kink, point, bad, names):
    inside = math.isfinite(d) and kink.lo - 1e-12 <= d <= kink.hi + 1e-12
    return run.record(
        engine, check, "kink-convention" if inside else bad, inputs=point.inputs,
        values={"derivative": d, "subdifferential": [kink.lo, kink.hi]}, namespace=names,
        detail=f"at the kink {kink.text}: {engine} gives {fmt(d)}; the subdifferential is "
               f"[{fmt(kink.lo)}, {fmt(kink.hi)}]")
