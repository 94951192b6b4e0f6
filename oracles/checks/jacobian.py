"""Check 3: where inputs x outputs is small, the subject's full Jacobian by columns (one JVP
per input entry) and by rows (one VJP per output entry), against the reference's by rows.
A NaN anywhere the reference is finite is a defect."""
from __future__ import annotations

import numpy as np

from ..calls import has_mode, nonfinite_where_finite
from ..protocol import basis
from ..reference import ad_tolerance, ask
from .derivatives import at_point

JAC_MAX = 64      # full Jacobians are checked when inputs x outputs has at most this many


def applies(claim, point) -> bool:
    return (claim.jacobian and point.first and not point.kinks
            and point.n * point.out.size <= JAC_MAX)


def run(run, point):
    ref, ref_name = None, None
    h = run.harness
    for name in sorted(h.oracles, key=lambda nm: ("referee", "ad").index(h.roles[nm])
                       if h.roles[nm] in ("referee", "ad") else 9):
        if h.roles[name] not in ("referee", "ad"):
            continue
        rows = []
        for e in basis(point.out.shape):
            ans, _ = ask(h.oracles[name], "vjp", run.f, point.x, e, point.out.shape, h.timeout)
            if ans is None:
                break
            rows.append(np.concatenate([np.ravel(b) for b in ans[1]]))
        else:
            ref, ref_name = np.array(rows).reshape(point.out.size, point.n), name
            break
    for eng in h.subjects:
        if ref is None:
            yield run.record(eng.name, "jacobian", "inconclusive", inputs=point.inputs,
                             detail="no oracle could form the Jacobian")
        else:
            yield at_point(_subject(run, eng, point, ref, ref_name), point)


def _subject(run, eng, point, ref, ref_name):
    m, n = point.out.size, point.n
    mats, names = {}, set()
    for kind in ("jvp", "vjp"):
        if not has_mode(eng, kind):
            continue
        vecs = []
        if kind == "vjp":
            ws = basis(point.out.shape)
        else:
            ws = []
            for i, a in enumerate(point.x):
                for e in basis(np.shape(a)):
                    t = [np.zeros_like(b) for b in point.x]
                    t[i] = e
                    ws.append(t)
        for w in ws:
            ans, used, fault = run.ask(eng, kind, point.x, w, point.out.shape)
            names.update(used)
            if fault is not None:
                return run.record(eng.name, "jacobian", fault.category, inputs=point.inputs,
                                  detail=f"by {'columns (JVP)' if kind == 'jvp' else 'rows (VJP)'}"
                                         f": {fault.message}", namespace=sorted(names))
            vecs.append(np.ravel(ans[1]) if kind == "jvp" else
                        np.concatenate([np.ravel(b) for b in ans[1]]))
        J = np.array(vecs).reshape(n, m).T if kind == "jvp" else np.array(vecs).reshape(m, n)
        mats[kind] = J
    if not mats:
        return run.record(eng.name, "jacobian", "unsupported", inputs=point.inputs,
                          detail="neither jvp nor vjp")
    tol = ad_tolerance(ref, ref, n)
    worst, detail, ok = 0.0, [], True
    for kind, J in mats.items():
        diff = np.abs(J - ref)
        bad = nonfinite_where_finite(J, ref)
        e = float(np.max(np.where(np.isfinite(diff), diff, np.inf), initial=0.0))
        ok = ok and not bad and e <= tol
        worst = max(worst, e)
        detail.append(f"by {'columns (JVP)' if kind == 'jvp' else 'rows (VJP)'}: max error "
                      f"{e:.3g}" + (f"; {bad}" if bad else ""))
    scale = float(np.max(np.abs(ref), initial=0.0))
    from ..harness import summarize
    return run.record(eng.name, "jacobian", "agree" if ok else "subject-defect",
                      max_abs_error=worst, max_rel_error=worst / scale if scale else worst,
                      tolerance=tol, inputs=point.inputs, reference=ref_name,
                      agreed=[ref_name], values={"reference": summarize(ref, 16)},
                      detail="; ".join(detail), namespace=sorted(names))
