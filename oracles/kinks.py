"""Each engine's value at the kinks of the ops the notes use, against the subdifferential:
the report's table, its rows fed from the table of primitives."""
from __future__ import annotations

import numpy as np

from .calls import Malformed, call, check_jvp, check_vjp
from .namespace import std
from .primitives import kink_probes

# (id, formula of one input, the kink, the subdifferential [lo, hi] there): the probes of the
# table of primitives (oracles.primitives.OPS), where the Primitives section's kinks live too
KINKS = kink_probes()


def kink_table(engines, timeout: float | None = 60.0) -> list[dict]:
    """Rows of {kink, engine, jvp, vjp, lo, hi, inside}: what each engine's forward and reverse
    derivative is at the kink, and whether it lies in the subdifferential (None where the
    engine gives no value there, e.g. the referee, which refuses to straddle a kink). Engines
    are called as the checks call them: with a time limit, their answers validated."""
    rows = []
    for kid, f, z, (lo, hi) in KINKS:
        f = std(f)
        for eng in engines:
            row = {"kink": kid, "engine": eng.name, "lo": lo, "hi": hi}
            for mode in ("jvp", "vjp"):
                row[mode] = None
                w = np.array(1.0)
                res, fault = call(getattr(eng, mode, None) or _absent, f, [np.array(z)],
                                  [w] if mode == "jvp" else w, timeout=timeout)
                try:
                    if fault is None:
                        ans = check_jvp(res, ()) if mode == "jvp" else check_vjp(res, (), [()])
                        row[mode] = float(ans[1] if mode == "jvp" else ans[1][0])
                except Malformed as exc:
                    row[mode + "_error"] = f"malformed answer: {exc}"
                if fault is not None:
                    row[mode + "_error"] = fault.message
            vals = [row[m] for m in ("jvp", "vjp") if row[m] is not None]
            row["inside"] = all(lo <= v <= hi for v in vals) if vals else None
            rows.append(row)
    return rows


def _absent(*args):
    raise NotImplementedError("the engine has no such mode")
