"""Taylor convergence, a verdict without a tolerance (pyadjoint's taylor_test): along the
point's tangent v, the remainder r(h) = |f(x + h v) - f(x) - h J v| of the subject's JVP J v
shrinks like h^2 when J v is right and like h when it is wrong. Steps h = 0.01 * 2^-i (scaled
to x and v, i = 0 .. 11), f in float64 with NumPy; remainders within 100 times their roundoff
are dropped. The observed rate is the median of log2(r(h) / r(h/2)) over the three smallest
steps that remain (the asymptotic end, past any kink the larger steps may cross): 1.75 or
more agrees, 0.75 to 1.25 along both v and -v is a subject defect (a wrong J v shows rate 1
on both sides; a kink within the steps on one side only), anything else, or fewer than four remainders
above roundoff (f linear along v, or flat), decides nothing. A claim gets one `taylor` record
per subject: a defect where any point shows one, else agree where any point decides, else
`inconclusive` with the reason."""
from __future__ import annotations

import numpy as np

from ..fd import xp as np_xp

STEPS = 0.01 * 2.0 ** -np.arange(12)
EPS = float(np.finfo(np.float64).eps)


def applies(claim, point) -> bool:
    return claim.f is not None and not point.kinks


def along(f, x, v, f0=None):
    """(steps, f(x + h v) for each step, f(x)): shared by every subject at a point."""
    f0 = np.asarray(f(np_xp, *x), float) if f0 is None else f0
    xmax = max((float(np.max(np.abs(a))) for a in x if np.size(a)), default=0.0)
    vmax = max((float(np.max(np.abs(a))) for a in v if np.size(a)), default=0.0)
    if vmax == 0.0:
        return [], [], f0
    steps = STEPS * max(1.0, xmax) / vmax
    return steps, [np.asarray(f(np_xp, *[a + h * t for a, t in zip(x, v)]), float)
                   for h in steps], f0


def rates(steps, values, f0, jv):
    """(remainders, observed rate or None, why) of the JVP `jv` along the steps."""
    jv = np.asarray(jv, float)
    if not len(steps):
        return [], None, "the tangent is zero"
    rem, floor = [], []
    for h, fh in zip(steps, values):
        rem.append(float(np.linalg.norm((fh - f0 - h * jv).ravel())))
        floor.append(8 * EPS * float(np.linalg.norm(fh.ravel()) + np.linalg.norm(f0.ravel())
                                     + h * np.linalg.norm(jv.ravel())) + 1e-300)
    keep = [i for i in range(len(steps)) if np.isfinite(rem[i]) and rem[i] > 100 * floor[i]]
    tail = []                          # the last run of consecutive steps above roundoff
    for i in keep:
        tail = tail + [i] if tail and i == tail[-1] + 1 else [i]
    if len(tail) < 4:
        if not np.all(np.isfinite(jv)):
            return rem, None, "the JVP J v is not finite (nan or inf): no rate"
        if not np.all(np.isfinite(rem)):
            return rem, None, "f(x + h v) is not finite at some step: no rate"
        return rem, None, ("the remainder is at roundoff for almost every step (f is linear "
                           "or flat along v here): no rate")
    obs = [np.log2(rem[i] / rem[i + 1]) for i in tail[-4:-1]]
    return rem, float(np.median(obs)), ""


def run(run, point):
    undecided = run.__dict__.setdefault("_taylor_undecided", {})
    decided = run.__dict__.setdefault("_taylor_decided", set())
    last = point.index == getattr(run, "n_points", 1) - 1
    shared = None
    for eng in run.harness.subjects:
        ans = point.answers.get((eng.name, "jvp"))
        if ans is None:
            continue
        shared = shared or along(run.f, point.x, point.v, point.out)
        steps = shared[0]
        rem, rate, why = rates(*shared, ans[1])
        cat = _category(rate)
        if cat == "subject-defect":          # a wrong J v shows rate 1 on both sides
            back = along(run.f, point.x, [-t for t in point.v], point.out)
            _, rate_back, _ = rates(*back, -np.asarray(ans[1], float))
            if _category(rate_back) != "subject-defect":
                cat, why = None, (f"rate {rate:.2f} along v but "
                                  f"{'no rate' if rate_back is None else f'{rate_back:.2f}'} "
                                  "along -v: a kink within the steps")
        if cat is None:
            undecided[eng.name] = why or (f"observed rate {rate:.2f}: neither 2 (right) nor "
                                          "1 (wrong); a kink within the steps?")
        else:
            decided.add(eng.name)
            yield run.record(eng.name, "taylor", cat, inputs=point.inputs,
                             values={"rate": rate, "steps": [float(h) for h in steps],
                                     "remainders": rem},
                             detail=f"observed convergence rate {rate:.2f} of the remainder "
                                    f"|f(x + h v) - f(x) - h J v| (2: J v right; 1: wrong)")
    if last:
        for name, why in undecided.items():
            if name not in decided:
                yield run.record(name, "taylor", "inconclusive", inputs=point.inputs,
                                 detail=f"Taylor test: at no drawn input could it decide; {why}")


def _category(rate):
    if rate is None:
        return None
    if rate >= 1.75:
        return "agree"
    if 0.75 <= rate <= 1.25:
        return "subject-defect"
    return None
