"""Second order: every subject that offers `hvp(f, primals, cotangent, tangents)` (the
derivative of its VJP along the tangents, d/de [J(x + e t)^T u] at e = 0) is compared with the
reference's (check `hvp`), and its Hessian's symmetry is checked on the subject alone
(`hvp-symmetry`: <t2, H t1> = <t1, H t2> for the Hessian of <u, f>, no reference involved).
A subject without `hvp` is `unsupported` for it.

The reference is the referee's (mixed second differences at 50 digits) where it answers (up to
16 input entries: it costs four evaluations per entry), with one AD oracle's distance from it
as the floor float64 can reach here; else two AD oracles (JAX's and PyTorch's
forward-over-reverse) that agree. Under the `ci` profile the check runs at
the first two drawn points of a claim; under `thorough` at every point.

Third order is not checked: first and second order through the protocol cover every rule and
its composition, and ourad's rules compute with the namespace, so a higher order is the same
code differentiated once more (Stan checks third order because its rules are written by hand
at every order)."""
from __future__ import annotations

import numpy as np

from ..calls import answer, fmt, has_mode
from ..reference import abs_diff, ad_tolerance

CI_POINTS = 2
REFEREE_MAX = 16     # the referee's hvp costs 4 evaluations at 50 digits per input entry
REFEREE_ERROR = 1e-20   # its differences' error, far below float64's, above its own 1e-24


def applies(claim, point) -> bool:
    return claim.f is not None and not point.kinks


def ask(eng, f, x, u, t, out_shape, timeout):
    """(out, H t as a tuple shaped like x) or (None, Fault)."""
    return answer(eng, "hvp", f, x, (u, t), out_shape, timeout)


def _flat(hv):
    return np.concatenate([np.ravel(h) for h in hv]) if hv else np.zeros(0)


def reference(run, point, t):
    """(flat H t, floor, source) or (None, 0, why)."""
    h, f, x, u = run.harness, run.f, point.x, point.u
    by_role = {}
    for name, eng in h.oracles.items():
        if has_mode(eng, "hvp"):
            by_role.setdefault(h.roles.get(name), []).append((name, eng))
    ads = []
    for name, eng in by_role.get("ad", []):
        ans, _ = ask(eng, f, x, u, t, point.out.shape, h.timeout)
        if ans is not None:
            ads.append((name, _flat(ans[1])))
    for name, eng in by_role.get("referee", []) if point.n <= REFEREE_MAX else []:
        ans, _ = ask(eng, f, x, u, t, point.out.shape, h.timeout)
        if ans is not None:
            want = _flat(ans[1])
            floor = max((float(np.max(abs_diff(a, want), initial=0.0)) for _, a in ads),
                        default=0.0)
            # the referee's own error (h^2 truncation at 50 digits) where f'' is 0 or tiny
            floor = max(floor, REFEREE_ERROR * max(1.0, float(np.max(np.abs(want),
                                                                      initial=0.0))))
            return want, floor, name
    if len(ads) >= 2:
        (n1, a1), (n2, a2) = ads[:2]
        spread = float(np.max(abs_diff(a1, a2), initial=0.0))
        if spread <= ad_tolerance(a1, a2, point.n):
            return a1, spread, f"{n1}+{n2}"
        return None, 0.0, f"{n1} and {n2} disagree on the hvp by {fmt(spread)}"
    return None, 0.0, "no referee answer and fewer than two AD oracles with an hvp"


def run(run, point):
    thorough = getattr(run.harness.options, "profile", "ci") != "ci"
    if point.index >= CI_POINTS and not thorough:
        return
    rng = np.random.default_rng(run.harness.seed + 101 + point.index)
    t2 = [rng.standard_normal(np.shape(a)) for a in point.x]
    ref = None
    for eng in run.harness.subjects:
        if not has_mode(eng, "hvp"):
            yield run.record(eng.name, "hvp", "unsupported", inputs=point.inputs,
                             detail="the engine has no hvp")
            continue
        ans, fault = ask(eng, run.f, point.x, point.u, point.v, point.out.shape,
                          run.harness.timeout)
        if fault is not None:
            yield run.record(eng.name, "hvp", fault.category, inputs=point.inputs,
                             detail=fault.message)
            continue
        ref = ref or reference(run, point, point.v)
        yield _compare(run, eng.name, _flat(ans[1]), ref, point)
        yield _symmetry(run, eng, ans[1], t2, point, ref[1])


def _compare(run, engine, got, ref, point):
    want, floor, source = ref
    if want is None:
        return run.record(engine, "hvp", "inconclusive", inputs=point.inputs, detail=source)
    diff = abs_diff(got, want)
    err = float(np.max(np.where(np.isfinite(diff), diff, np.inf), initial=0.0))
    tol = ad_tolerance(want, got, point.n) + 4 * floor
    scale = float(np.max(np.abs(want), initial=0.0))
    return run.record(engine, "hvp", "agree" if err <= tol else "subject-defect",
                      inputs=point.inputs, reference=source, agreed=source.split("+"),
                      max_abs_error=err, max_rel_error=err / scale if scale else err,
                      tolerance=tol, values={"got": got.tolist()[:16],
                                             "reference": want.tolist()[:16]},
                      detail="the derivative of the VJP along the point's tangents")


def _symmetry(run, eng, hv1, t2, point, floor=0.0):
    ans, fault = ask(eng, run.f, point.x, point.u, t2, point.out.shape, run.harness.timeout)
    if fault is not None:
        return run.record(eng.name, "hvp-symmetry", fault.category, inputs=point.inputs,
                          detail=fault.message)
    lhs = float(sum(np.sum(a * b) for a, b in zip(t2, hv1)))
    rhs = float(sum(np.sum(a * b) for a, b in zip(point.v, ans[1])))
    # the sums cancel: measure the tolerance against their terms, not their values
    mag = float(sum(np.sum(np.abs(a * b)) for a, b in zip(t2, hv1))
                + sum(np.sum(np.abs(a * b)) for a, b in zip(point.v, ans[1])))
    # and where computing H itself cancels (log sigmoid(x^3): two terms of 1.66 leave -0.0069),
    # by as much as float64 AD misses the reference's H t1 here (`floor`), along either side
    tol = 4 * ad_tolerance(mag, mag, point.n) + 4 * floor * float(
        sum(np.sum(np.abs(a)) for a in t2) + sum(np.sum(np.abs(a)) for a in point.v))
    return run.record(eng.name, "hvp-symmetry", "agree" if abs(lhs - rhs) <= tol
                      else "subject-defect", inputs=point.inputs,
                      max_abs_error=abs(lhs - rhs), tolerance=tol,
                      values={"<t2, H t1>": lhs, "<t1, H t2>": rhs},
                      detail="the engine's Hessian of <u, f> is symmetric, no reference "
                             "involved")
