"""Checks 1 and 2 at a differentiable point: every subject's JVP and VJP against the
reference, its primal value, its own JVP against its own VJP (<u, J v> = <J^T u, v>, no
reference involved; also across two subjects that are modes of one engine), and every oracle
that did not make the reference against it."""
from __future__ import annotations

import numpy as np

from ..calls import has_mode, top
from ..reference import EPS, OWN_ULPS, ad_tolerance, flat, measure, tolerance_of
from ..verdict import Record


def applies(claim, point) -> bool:
    return claim.f is not None and not point.kinks


def run(run, point):
    h = run.harness
    for eng in h.subjects:
        yield from _subject(run, eng, point)
    subs = [e for e in h.subjects]
    for a in subs:
        for b in subs:
            ja, vb = point.answers.get((a.name, "jvp")), point.answers.get((b.name, "vjp"))
            if a is not b and ja is not None and vb is not None:
                yield transpose(run, b.name, f"transpose against {a.name}", ja, vb, point,
                                f"{a.name}'s JVP against {b.name}'s VJP, no reference involved")
    for name, eng in h.oracles.items():
        for kind, w in (("jvp", point.v), ("vjp", point.u)):
            ref = point.ref[kind]
            if ref.ok and name not in ref.agreed:
                yield _oracle(run, name, eng, kind, w, point)
    for name in sorted({nm for r in point.ref.values() for nm in r.agreed}):
        yield run.record(name, "reference", "agree", inputs=point.inputs,
                         detail="this engine established or confirmed the reference")
    missing = [r for r in point.ref.values() if not r.ok]
    if missing:
        yield run.record("reference", "reference", "inconclusive", inputs=point.inputs,
                         detail=missing[0].why)


def _subject(run, eng, point):
    values = []
    for kind in ("jvp", "vjp"):
        rec, answered = derivative(run, eng, point, kind)
        yield rec
        if answered is not None:
            values.append((kind, *answered))
    for kind, out, names in values:
        yield at_point(value(run, eng.name, kind, out, point, names), point, kind)
    if (eng.name, "jvp") in point.answers and (eng.name, "vjp") in point.answers:
        yield transpose(run, eng.name, "transpose", point.answers[(eng.name, "jvp")],
                        point.answers[(eng.name, "vjp")], point,
                        "the engine's own JVP against its own VJP, no reference involved")


def derivative(run, eng, point, kind):
    """One subject's JVP (along the point's tangents) or VJP (along its cotangent) against
    the reference: (record, (primal output, names of ours it used) or None when the engine
    gave no answer). Shrinking (`oracles.shrink`) re-runs exactly this at other inputs."""
    from ..harness import compare
    w = point.v if kind == "jvp" else point.u
    ref = point.ref[kind]
    if not has_mode(eng, kind):
        return run.record(eng.name, kind, "unsupported", inputs=point.inputs,
                          detail=f"the engine has no {kind}"), None
    ans, names, fault = run.ask(eng, kind, point.x, w, point.out.shape)
    if fault is not None:
        return at_point(run.record(eng.name, kind, fault.category, inputs=point.inputs,
                                   detail=fault.message, namespace=names), point), None
    point.answers[(eng.name, kind)] = ans
    if not ref.ok:
        return run.record(eng.name, kind, "inconclusive", inputs=point.inputs,
                          detail=ref.why, namespace=names), (ans[0], names)
    rec = compare(run, eng.name, kind, flat(kind, ans[1]), ref, point, "subject-defect",
                  namespace=names)
    if rec.category != "agree":
        rec.detail = (rec.detail + "\n" if rec.detail else "") + run.snippet(
            eng.name, point, kind)
    return at_point(rec, point), (ans[0], names)


def value(run, engine, kind, out, point, names):
    """The primal value the engine returned with its derivative, against the reference's."""
    ref = point.ref[kind]
    want = np.asarray(ref.out if ref.out is not None else point.out, float).ravel()
    got = np.asarray(out, float).ravel()
    tol = ad_tolerance(want, got, point.n) + 4 * ref.floor
    ok, err, rel, bad = measure(got, want, tol)
    from ..harness import summarize
    return run.record(engine, "value", "agree" if ok else "subject-defect",
                      max_abs_error=err, max_rel_error=rel,
                      tolerance=tol, inputs=point.inputs, reference=ref.source or "numpy",
                      values={"got": summarize(got), "reference": summarize(want)},
                      detail=f"the primal output returned by the {kind}" + (
                          f"\n{bad}" if bad else ""), namespace=names)


def transpose(run, engine, check, jvp_ans, vjp_ans, point, detail) -> Record:
    """<u, J v> from a JVP against <J^T u, v> from a VJP: a few ulps of the terms, plus
    what each side's comparison with a reference allows it (AD tolerance and the floor,
    against |u| and |v|): J v and J^T u are each computed with their own rounding inside
    the engine, which the terms of the two last sums do not show (a sigmoid-xent network's
    JVP and VJP by HIPS autograd differed by 56 ulps of the product, 1.4 times the terms'
    bound)."""
    lhs_t = np.asarray(point.u, float) * jvp_ans[1]
    # the VJP's side part by part, one product array at a time (a million entries)
    rhs = rhs_abs = 0
    jtu_top = 0.0
    for b, vv in zip(vjp_ans[1], point.v):
        t = np.multiply(b, np.asarray(vv, float))
        rhs = rhs + np.sum(t)
        rhs_abs = rhs_abs + np.sum(np.abs(t, out=t) if isinstance(t, np.ndarray) else abs(t))
        jtu_top = max(jtu_top, top(b))   # the top of J^T u, all parts together
    lhs, rhs = float(np.sum(lhs_t)), float(rhs)
    scale = float(np.sum(np.abs(lhs_t)) + rhs_abs)
    jv = np.ravel(jvp_ans[1])
    floors = {k: (r.floor if r.ok else 0.0) for k, r in point.ref.items()}
    sides = float(np.sum(np.abs(point.u))) * (ad_tolerance(jv, jv, point.n)
                                              + 4 * floors.get("jvp", 0.0)) + \
        point.v_abs_sum() * (tolerance_of(jtu_top + jtu_top, point.n)
                             + 4 * floors.get("vjp", 0.0))
    tol = OWN_ULPS * EPS * scale + sides + 1e-300
    err = abs(lhs - rhs)
    ok = bool(np.isfinite(lhs) and np.isfinite(rhs) and err <= tol)
    return at_point(run.record(engine, check, "agree" if ok else "subject-defect",
                          max_abs_error=err, max_rel_error=err / max(abs(lhs), 1e-300),
                          tolerance=tol, inputs=point.inputs,
                          values={"<u, J v>": lhs, "<J^T u, v>": rhs}, detail=detail), point)


def at_point(rec: Record, point, kind: str | None = None) -> Record:
    """The point a record was made at, kept (outside its JSON form) for localising and
    shrinking it; `kind`, for a value record, is the mode whose primal output it judged."""
    rec._at = point
    rec._kind = kind or rec.check
    return rec


def _oracle(run, name, eng, kind, w, point):
    """An oracle that did not make the reference, against it (fd held to its own error
    estimate where it offers one)."""
    from ..harness import compare
    with_error = getattr(eng, f"{kind}_with_error", None)
    if with_error is not None:
        ans, names, fault = _ask_with_error(run, with_error, kind, w, point)
    else:
        ans, names, fault = run.ask(eng, kind, point.x, w, point.out.shape)
    if fault is not None:
        return run.record(name, kind, "unsupported", inputs=point.inputs,
                          detail=fault.message)
    extra = 0.0
    if with_error is not None:
        extra = flat(kind, ans[2])
    return compare(run, name, kind, flat(kind, ans[1]), point.ref[kind], point,
                   "oracle-disagreement", extra_tol=extra)


def _ask_with_error(run, method, kind, w, point):
    from ..calls import Fault, Malformed, call, to_float64
    res, fault = call(method, run.f, point.x, w, timeout=run.harness.timeout)
    if fault is not None:
        return None, [], fault
    try:
        out, d, err = res
        if kind == "jvp":
            d, err = to_float64(d, "fd"), to_float64(err, "fd's error")
        else:
            d = tuple(to_float64(b, "fd") for b in d)
            err = tuple(to_float64(e, "fd's error") for e in err)
        return (out, d, err), [], None
    except (Malformed, ValueError, TypeError) as exc:
        return None, [], Fault("malformed", str(exc))
