"""Localisation: the primitive a subject gets wrong, named in the record of its defect.

When a subject's derivative of a claim disagrees with the reference at a point, the claim's
evaluation there is recorded as a Wengert list (`oracles.wengert`, a recording namespace over
NumPy), and the subject is asked for the JVP and the VJP of each primitive alone, at its
recorded inputs, through the subject's own namespace (the claim's shapes, broadcasting and
parameters). Each answer is compared with the reference as claims are compared (the same
`establish`, the same AD tolerance). The first primitive in program order whose rule
disagrees is the blame: op, argument, mode, inputs, both values. When every primitive agrees
alone, the fault lies in how the engine composes them (accumulation, fan-out, broadcasting),
and the subject's derivatives of the claim's prefixes name the first intermediate whose
tangent (forward) or adjoint (reverse) is wrong.

Only failing records are localised, one per (engine, check) of a claim, at the point the
record shows: a claim of n primitives costs O(n) subject calls there, each under the run's
time limit. Answers are shared between the records of one engine at one point.
"""
from __future__ import annotations

import numpy as np

from .calls import Malformed, call, check_jvp, check_vjp, fmt, has_mode, nonfinite_where_finite
from .reference import abs_diff, ad_tolerance, establish, flat
from .verdict import blame_line
from .wengert import RecordingError, alone, prefix, record

MODES = {"jvp": ("jvp", "vjp"), "vjp": ("vjp", "jvp")}


def wanted(rec) -> bool:
    """Whether a record is localised: a subject defect of a derivative check."""
    return rec.category == "subject-defect" and (
        rec.check in ("jvp", "vjp", "jacobian") or rec.check.startswith("transpose"))


def localise_records(run, records) -> None:
    """Set `blame` on every record `wanted`, or say in its detail why there is none."""
    memo: dict = {}
    for rec in records:
        if not wanted(rec):
            continue
        point = getattr(rec, "_at", None)
        why = "no point to localise at"
        for eng, modes in _suspects(run, rec):
            if point is None or run.claim.f is None or rec.blame is not None:
                break
            try:
                rec.blame, why = localise(run, eng, point, modes, memo)
            except RecordingError as exc:
                why = f"the claim's program could not be recorded: {exc}"
            if rec.blame is not None and eng.name != rec.engine:
                rec.blame["engine"] = eng.name
        if rec.blame is None:
            rec.detail = (rec.detail + "\n" if rec.detail else "") + f"not localised: {why}"


def _suspects(run, rec):
    """(engine, modes to ask) in turn: the record's engine; for one engine's JVP against
    another's VJP, the other engine's forward mode too."""
    by_name = {e.name: e for e in run.harness.subjects}
    if rec.engine in by_name:
        yield by_name[rec.engine], MODES.get(rec.check, ("jvp", "vjp"))
    other = rec.check.partition("transpose against ")[2]
    if other in by_name:
        yield by_name[other], ("jvp", "vjp")


def localise(run, eng, point, modes, memo) -> tuple[dict | None, str]:
    """(blame, "") or (None, why)."""
    key = ("program", id(point))
    if key not in memo:
        memo[key] = record(run.claim.f, point.x)
    prog = memo[key]
    steps = prog.steps(lambda name: _has(eng.xp, name))
    if not steps:
        return None, "the claim's output does not depend on its inputs through any primitive"
    names = prog.names(steps)
    for st in steps:
        for mode in modes:
            k = (eng.name, id(point), st.index, mode)
            if k not in memo:
                memo[k] = _check_step(run, eng, st, mode)
            if memo[k] is not None:
                return dict(memo[k], step=st.text(names)), ""
    for mode in modes:
        blame = _composition(run, eng, point, prog, steps, names, mode)
        if blame is not None:
            return blame, ""
    return None, ("every primitive and every prefix of the claim agrees with the reference "
                  "alone at this point")


def _has(xp, name) -> bool:
    try:
        getattr(xp, name)
        return True
    except Exception:  # noqa: BLE001 -- MissingOp, AttributeError, an adapter's own error
        return False


def _check_step(run, eng, st, mode) -> dict | None:
    """The step's op alone, in `mode`: a blame, or None when it agrees (or nothing can say)."""
    slots = st.slots()
    if not slots:
        return None
    x = [np.asarray(v, np.float64) for _, v in slots]
    g = alone(st)
    shape = np.shape(st.out)
    rng = np.random.default_rng([run.harness.seed, st.index])
    w = [rng.standard_normal(np.shape(a)) for a in x] if mode == "jvp" else \
        rng.standard_normal(shape)
    d = _disagreement(run, eng, mode, g, x, w, shape, attribute=True)
    if d is None:
        return None
    unit = _unit(mode, x, shape, d["slot"])          # the plain partial, for the message
    d2 = _disagreement(run, eng, mode, g, x, unit, shape, attribute=mode == "vjp")
    if d2 is not None and (d2["slot"] == d["slot"] or mode == "jvp"):
        d = dict(d2, slot=d["slot"])
    return {"op": st.op, "argument": None if d["slot"] is None else slots[d["slot"]][0],
            "mode": mode, "inputs": [_summary(v) for v in st.inputs],
            "params": {k: _plain(v) for k, v in st.params.items()},
            "at": _at(st.inputs), "got": d["got"], "want": d["want"]}


def _unit(mode, x, shape, slot):
    if mode == "vjp":
        return np.ones(shape)
    return [np.ones(np.shape(a)) if k == slot or slot is None else np.zeros(np.shape(a))
            for k, a in enumerate(x)]


def _disagreement(run, eng, mode, g, x, w, shape, attribute=False) -> dict | None:
    """The subject's answer against the reference: None when they agree or no reference can
    be had, else {"slot": the first wrong input (when `attribute`), "got", "want"}."""
    h = run.harness
    if not has_mode(eng, mode):
        return None
    res, fault = call(getattr(eng, mode), g, x, w, timeout=h.timeout)
    if fault is None:
        try:
            ans = check_jvp(res, shape) if mode == "jvp" else \
                check_vjp(res, shape, [np.shape(a) for a in x])
        except Malformed as exc:
            return {"slot": _misshapen(res, x) if attribute else None,
                    "got": f"malformed answer: {exc}", "want": "a well-formed one"}
    elif fault.kind == "unsupported":
        return None
    else:
        return {"slot": None, "got": fault.message.splitlines()[0], "want": "an answer"}
    ref = establish(mode, g, x, w, shape, h.oracles, h.roles, h.seed, h.timeout,
                    sampler=h.sampler)
    if not ref.ok:
        return None
    n = int(sum(np.size(a) for a in x))
    if mode == "vjp":
        for k, (got, want) in enumerate(zip(ans[1], ref.derivative)):
            if _differ(got, want, n, ref.floor):
                return {"slot": k if attribute else None, "got": _summary(got),
                        "want": _summary(want)}
        return None
    if not _differ(ans[1], ref.derivative, n, ref.floor):
        return None
    out = {"slot": None, "got": _summary(ans[1]), "want": _summary(ref.derivative)}
    if attribute and len(x) > 1:
        for k in range(len(x)):
            one = [wk if j == k else np.zeros_like(wk) for j, wk in enumerate(w)]
            d = _disagreement(run, eng, mode, g, x, one, shape)
            if d is not None:
                return dict(d, slot=k)
    elif attribute:
        out["slot"] = 0
    return out


def _misshapen(res, x):
    """The first input whose cotangent is not shaped like it, in a malformed VJP answer."""
    try:
        return next(k for k, (b, a) in enumerate(zip(res[1], x))
                    if np.shape(b) != np.shape(a))
    except (TypeError, IndexError, StopIteration):
        return None


def _differ(got, want, n, floor) -> bool:
    got, want = flat("jvp", got), flat("jvp", want)
    if got.shape != want.shape:
        return True
    diff = abs_diff(got, want)
    tol = ad_tolerance(want, got, n) + 4 * floor
    same_inf = np.isinf(want) & (got == want)
    return bool(nonfinite_where_finite(got, want)) or not bool(np.all((diff <= tol) | same_inf))


def _composition(run, eng, point, prog, steps, names, mode) -> dict | None:
    """Every primitive agrees alone: the first prefix of the claim whose derivative does not."""
    rng = np.random.default_rng(run.harness.seed + 1)
    for st in steps:
        shape = np.shape(st.out)
        w = point.v if mode == "jvp" else rng.standard_normal(shape)
        d = _disagreement(run, eng, mode, prefix(prog, steps, st.id), point.x, w, shape)
        if d is not None:
            what = "tangent" if mode == "jvp" else "adjoint"
            return {"op": "composition", "argument": None, "mode": mode,
                    "inputs": point.inputs, "at": _at(point.x), "step": st.text(names),
                    "got": d["got"], "want": d["want"],
                    "detail": f"every primitive agrees alone; the first wrong {what} is that "
                              f"of {st.text(names)} (the claim up to that step)"}
    return None


def _summary(v, limit=8):
    try:
        a = np.asarray(v, dtype=float)
    except (TypeError, ValueError):
        return str(v)
    if a.size <= limit:
        return a.tolist()
    return {"shape": list(a.shape), "head": a.ravel()[:limit].tolist()}


def _plain(v):
    return v.tolist() if isinstance(v, np.ndarray) else v


def _at(values) -> str:
    """"(1.5, 0.5)": scalars as numbers, small arrays as lists, others by shape."""
    parts = []
    for v in values:
        try:
            a = np.asarray(v, dtype=float)
        except (TypeError, ValueError):
            parts.append(str(v))
            continue
        if a.ndim == 0:
            parts.append(fmt(a))
        elif a.size <= 4:
            parts.append("[" + ", ".join(fmt(e) for e in a.ravel()) + "]")
        else:
            parts.append(f"array{a.shape}")
    return "(" + ", ".join(parts) + ")"


__all__ = ["localise", "localise_records", "wanted", "blame_line"]
