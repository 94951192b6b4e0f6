"""The pictures' data for the report: trace tables, fd error curves, kinks and costs."""
from __future__ import annotations

import numpy as np

from .calls import answer, has_mode, to_float64
from .fd import FiniteDifferences
from .kinks import kink_table
from .namespace import std


def _safe(fn, *args):
    try:
        return fn(*args)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 -- a missing picture must not sink the report
        return {"error": f"{type(exc).__name__}: {exc}"}


def collect(harness) -> dict:
    return {"trace": _safe(trace_tables, harness), "fd_curves": _safe(fd_curves),
            "kinks": _safe(lambda: kink_table(list(harness.subjects)
                                              + list(harness.oracles.values()),
                                              harness.timeout)),
            "costs": _safe(cost_table, harness), "readings": _safe(readings),
            "taylor": _safe(taylor_example, harness)}


def taylor_example(harness) -> dict:
    """The Taylor test on the notes' example at their point along the seed (1, 0): each
    subject's remainders, for the report's plot."""
    from .catalogue import sec_3_forward_mode as sec
    from .checks.taylor import along, rates
    f = std(lambda xp, a, b: sec.run(xp, a, b)[6])
    x, v = [np.array(sec.X[0]), np.array(sec.X[1])], [np.array(1.0), np.array(0.0)]
    shared = along(f, x, v)
    out = []
    for eng in harness.subjects:
        if has_mode(eng, "jvp"):
            ans = _ask(eng, "jvp", f, x, v, harness.timeout)
            if ans[1] is not None:
                rem, rate, why = rates(*shared, ans[1])
                out.append({"engine": eng.name, "remainders": rem, "rate": rate, "why": why})
    return {"point": list(sec.X), "tangent": [1.0, 0.0],
            "steps": [float(h) for h in shared[0]], "subjects": out}


def readings() -> dict:
    """Where the notes had to be read around (oracles/catalogue/readings.py) and the items
    of the notes the coverage map leaves unchecked, with why."""
    from .catalogue.coverage_map import COVERAGE, Reason
    from .catalogue.readings import as_dicts
    return {"places": as_dicts(),
            "unchecked": [{"text": k.split("#")[0], "reason": str(v)}
                          for k, v in COVERAGE.items() if isinstance(v, Reason)]}


def _with(subjects, mode):
    """The subject to ask for `mode`: one that has it natively (`native_modes`, where an
    engine declares it) before one that builds it from the other mode."""
    able = [e for e in subjects if has_mode(e, mode)]
    return next((e for e in able if mode in getattr(e, "native_modes", (mode,))),
                able[0] if able else None)


def _ask(eng, mode, f, primals, w, timeout):
    """The subject's answer (out, derivative) at a scalar-valued point, or (None, None) where
    it cannot give one (the checks report why; a table shows a gap)."""
    x = [np.asarray(p, float) for p in primals]
    w = [np.asarray(t, float) for t in w] if mode == "jvp" else np.asarray(w, float)
    ans, fault = answer(eng, mode, std(f), x, w, (), timeout)
    return (None, None) if fault is not None else (float(ans[0]), ans[1])


def trace_tables(harness) -> dict:
    """The notes' forward-mode table beside the run's subject and the reference, and the
    adjoint table of the same example. The subject computes each line (a JVP of the program's
    prefix up to the line, a VJP for each adjoint); ourad's trace gives the lines' names and
    expressions."""
    import ourad
    from .catalogue import sec_3_forward_mode as sec
    ctx, X = harness.context, sec.X
    fwd, rev = _with(harness.subjects, "jvp"), _with(harness.subjects, "vjp")
    t = ourad.trace(lambda a, b: sec.run(ourad.xp, a, b)[6], *X, tangents=(1.0, 0.0),
                    names=["x_1", "x_2"])
    rules = {k: p for k, p, _ in sec.TANGENT_RULES}
    lines = {k: p for k, p, _ in sec.LINES}
    rows, adjoint = [], []
    for e in t.entries:
        k = e.index
        _, ref_t = ctx.reference.jvp(sec.prefix(k), [np.array(X[0]), np.array(X[1])],
                                     [np.array(1.0), np.array(0.0)])
        got_p, got_t = (_ask(fwd, "jvp", sec.prefix(k), X, (1.0, 0.0), harness.timeout)
                        if fwd else (None, None))
        rows.append({
            "k": k, "name": e.name,
            "printed_primal": lines.get(k, "v_{-1} = x_1" if k == -1 else "v_0 = x_2"),
            "printed_value": sec.PRINTED_PRIMALS[k + 1],
            "computed_expression": e.expression, "computed_primal": got_p,
            "reference_primal": float(sec.prefix(k)(np, *X)),
            "printed_rule": rules.get(k, r"\dot{v}_{%d} (seed)" % k),
            "printed_tangent": sec.PRINTED_TANGENTS[k + 1],
            "computed_tangent": _scalar(got_t), "reference_tangent": float(ref_t),
            "rule_claim": f"fwd-table-tangent-rule-v{k}" if k in rules else None})
        f, prim, which = _adjoint_of(sec, k)
        _, ref = ctx.reference.vjp(f, [np.array(p) for p in prim], np.array(1.0))
        got = _ask(rev, "vjp", f, prim, 1.0, harness.timeout)[1] if rev else None
        adjoint.append({"k": k, "name": e.name, "expression": e.expression,
                        "computed_adjoint": _scalar(got[which]) if got is not None else None,
                        "reference_adjoint": float(ref[which])})
    return {"point": list(X), "seed": [1.0, 0.0], "reference": ctx.reference.name,
            "computed_by": {"forward": fwd.name if fwd else None,
                            "adjoint": rev.name if rev else None},
            "forward": rows, "adjoint": adjoint, "printed_partial": sec.PRINTED_PARTIAL}


def _adjoint_of(sec, k):
    """(f, primals, which input) whose VJP along 1 gives the adjoint of v_k: for the inputs
    the gradient of f; for a line, f with v_k overridden, differentiated in v_k."""
    X = sec.X
    if k < 1:
        return (lambda xp, a, b: sec.run(xp, a, b)[6]), list(X), k + 1
    v_k = float(sec.run(np, *X)[k])
    return ((lambda xp, s, a, b: sec.run(xp, a, b, override=(k, s))[6]),
            [v_k, X[0], X[1]], 0)


def _scalar(d):
    try:
        a = to_float64(d, "derivative")
        return float(a.reshape(-1)[0]) if a.size == 1 else None
    except Exception:  # noqa: BLE001
        return None


def fd_curves() -> dict:
    """Error of forward and central differences of sin at 1 against the step, in float64 and
    float32, with the step fd's error model picks."""
    f = lambda xp, x: xp.sin(x)  # noqa: E731
    exact = float(np.cos(1.0))
    steps = np.geomspace(1e-16, 1e-1, 61)
    curves = []
    for dtype in ("float64", "float32"):
        fd = FiniteDifferences(dtype=dtype)
        for method in ("forward", "central"):
            errs = fd.error_curve(f, [np.array(1.0)], [np.array(1.0)], exact, steps, method)
            chosen = fd.directional(f, [np.array(1.0)], [np.array(1.0)], method=method)
            curves.append({"dtype": dtype, "method": method, "steps": steps.tolist(),
                           "errors": [float(e) for e in errs], "chosen_step": chosen.step,
                           "chosen_error": float(abs(float(chosen.value) - exact)),
                           "estimated_error": float(chosen.error)})
    return {"function": "sin at x = 1", "exact": exact, "curves": curves}


def cost_table(harness) -> dict:
    """ourad's counts (the harness's own measure, whatever the subject), JAX's and PyTorch's;
    `subject_note` says whether the run's subject is ourad."""
    from .catalogue import sec_6_network_cost as sec
    names = [e.name for e in harness.subjects]
    mine = all(n.startswith("ourad") for n in names)
    return {"network": "R^2 -> R^1000 -> R^1000 -> R, tanh, no bias",
            "counted_by": "ourad",
            "subject_note": "" if mine else (
                f"the run's subject ({', '.join(names)}) is not counted: flops are counted "
                "by ourad, by XLA and by PyTorch"),
            "ourad": dict(sec.counts()), "frameworks": sec.framework_counts(harness.context),
            "printed": {"backward to the input": "~10^6 flops",
                        "weight-gradient products": "~10^6 flops"}}
