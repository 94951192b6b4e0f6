"""The pictures' data for the report: trace tables, fd error curves, kinks and costs."""
from __future__ import annotations

import numpy as np

from .fd import FiniteDifferences
from .kinks import kink_table


def _safe(fn, *args):
    try:
        return fn(*args)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 -- a missing picture must not sink the report
        return {"error": f"{type(exc).__name__}: {exc}"}


def collect(harness) -> dict:
    ctx = harness.context
    return {"trace": _safe(trace_tables, ctx), "fd_curves": _safe(fd_curves),
            "kinks": _safe(lambda: kink_table(list(harness.subjects)
                                              + list(harness.oracles.values()),
                                              harness.timeout)),
            "costs": _safe(cost_table, ctx)}


def trace_tables(ctx) -> dict:
    """The notes' forward-mode table beside ourad's trace and the reference, and the adjoint
    table of the same example."""
    import ourad
    from .catalogue import sec_3_forward_mode as sec
    X = sec.X
    fn = lambda a, b: sec.run(ourad.xp, a, b)[6]  # noqa: E731
    t = ourad.trace(fn, *X, tangents=(1.0, 0.0), names=["x_1", "x_2"])
    rules = {k: p for k, p, _ in sec.TANGENT_RULES}
    lines = {k: p for k, p, _ in sec.LINES}
    rows = []
    for e in t.entries:
        k = e.index
        ref_primal = float(sec.prefix(k)(np, *X))
        _, ref_t = ctx.reference.jvp(sec.prefix(k), [np.array(X[0]), np.array(X[1])],
                                     [np.array(1.0), np.array(0.0)])
        rows.append({
            "k": k, "name": e.name,
            "printed_primal": lines.get(k, "v_{-1} = x_1" if k == -1 else "v_0 = x_2"),
            "printed_value": sec.PRINTED_PRIMALS[k + 1],
            "computed_expression": e.expression, "computed_primal": float(e.primal),
            "reference_primal": ref_primal,
            "printed_rule": rules.get(k, r"\dot{v}_{%d} (seed)" % k),
            "printed_tangent": sec.PRINTED_TANGENTS[k + 1],
            "computed_tangent": float(e.tangent), "reference_tangent": float(ref_t),
            "rule_claim": f"fwd-table-tangent-rule-v{k}" if k in rules else None})
    adjoint = []
    for e in t.entries:
        k = e.index
        if k < 1:
            ref = ctx.reference.vjp(lambda xp, a, b: sec.run(xp, a, b)[6],
                                    [np.array(X[0]), np.array(X[1])], np.array(1.0))[1][k + 1]
        else:
            v_k = float(sec.run(np, *X)[k])
            _, ref = ctx.reference.jvp(lambda xp, s, a, b, k=k: sec.run(xp, a, b,
                                                                        override=(k, s))[6],
                                       [np.array(v_k), np.array(X[0]), np.array(X[1])],
                                       [np.array(1.0), np.array(0.0), np.array(0.0)])
        adjoint.append({"k": k, "name": e.name, "expression": e.expression,
                        "computed_adjoint": float(e.adjoint), "reference_adjoint": float(ref)})
    return {"point": list(X), "seed": [1.0, 0.0], "reference": ctx.reference.name,
            "forward": rows, "adjoint": adjoint, "printed_partial": sec.PRINTED_PARTIAL}


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


def cost_table(ctx) -> dict:
    from .catalogue import sec_6_network_cost as sec
    return {"network": "R^2 -> R^1000 -> R^1000 -> R, tanh, no bias",
            "ourad": dict(sec.counts()), "frameworks": sec.framework_counts(ctx),
            "printed": {"backward to the input": "~10^6 flops",
                        "weight-gradient products": "~10^6 flops"}}
