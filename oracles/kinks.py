"""Each engine's value at the kinks of the ops the notes use, against the subdifferential."""
from __future__ import annotations

import numpy as np

from .protocol import Unsupported

# (id, formula of one input, the kink, the subdifferential [lo, hi] there)
KINKS = [
    ("relu(z) at z=0", lambda xp, z: xp.relu(z), 0.0, (0.0, 1.0)),
    ("maximum(z, 0) at z=0", lambda xp, z: xp.maximum(z, 0.0 * z), 0.0, (0.0, 1.0)),
    ("minimum(z, 0) at z=0", lambda xp, z: xp.minimum(z, 0.0 * z), 0.0, (0.0, 1.0)),
    ("abs(z) at z=0", lambda xp, z: xp.abs(z), 0.0, (-1.0, 1.0)),
    ("where(z >= 0, z, 0) at z=0", lambda xp, z: xp.where(z >= 0, z, 0.0 * z), 0.0, (0.0, 1.0)),
    ("max([z, 0]) at z=0", lambda xp, z: xp.max(xp.stack([z, 0.0 * z])), 0.0, (0.0, 1.0)),
]


def kink_table(engines) -> list[dict]:
    """Rows of {kink, engine, jvp, vjp, lo, hi, inside}: what each engine's forward and reverse
    derivative is at the kink, and whether it lies in the subdifferential (None where the
    engine gives no value there, e.g. the referee, which refuses to straddle a kink)."""
    rows = []
    for kid, f, z, (lo, hi) in KINKS:
        for eng in engines:
            row = {"kink": kid, "engine": eng.name, "lo": lo, "hi": hi}
            for mode in ("jvp", "vjp"):
                try:
                    if mode == "jvp":
                        _, d = eng.jvp(f, [np.array(z)], [np.array(1.0)])
                    else:
                        _, (d,) = eng.vjp(f, [np.array(z)], np.array(1.0))
                    row[mode] = float(d)
                except (Unsupported, NotImplementedError, TypeError, AttributeError) as exc:
                    row[mode] = None
                    row[mode + "_error"] = str(exc)
            vals = [row[m] for m in ("jvp", "vjp") if row[m] is not None]
            row["inside"] = all(lo <= v <= hi for v in vals) if vals else None
            rows.append(row)
    return rows
