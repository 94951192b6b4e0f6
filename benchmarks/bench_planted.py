"""The harness's power, check by check: every bug planted in ourad's rules by
tests/test_planted_bugs.py, plus a derivative rounded through float16, run through the whole
catalogue; for each, the records of the subject that did not agree, counted by check and
precision (first order, hvp, taylor, float32 ...).

    python benchmarks/bench_planted.py [--examples N]

Prints one block per bug and writes benchmarks/out/planted.json.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
OUT = Path(__file__).resolve().parent / "out"


def _float16_tanh():
    from ourad.rules import RULES
    prim = RULES["tanh"]
    old = (prim.jvp, prim.vjp)

    def rule(xp, t, y, x):
        return np.asarray(np.asarray(t * (1.0 - y * y), np.float16), np.result_type(y))
    prim.jvp = prim.vjp = (rule,)
    return lambda: (setattr(prim, "jvp", old[0]), setattr(prim, "vjp", old[1]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--examples", type=int, default=3)
    args = ap.parse_args()
    import oracles
    from oracles.claims import load_catalogue
    from oracles.harness import Harness, draw_inputs
    from test_planted_bugs import PLANTED
    bugs = dict(PLANTED)
    bugs["derivative rounded through float16 (tanh)"] = _float16_tanh
    names = [n for n in ("referee", "jax", "torch", "fd") if oracles.available()[n] is True]
    oracle_engines = {n: oracles.engine(n) for n in names}
    claims = [c for c in load_catalogue() if c.f is not None]
    points = {c.id: draw_inputs(c, args.examples) for c in claims}
    result = {}
    for bug, plant in bugs.items():
        restore = plant()
        try:
            h = Harness([oracles.engine("ourad-forward"), oracles.engine("ourad-reverse")],
                        oracle_engines)
            seen = Counter()
            for c in claims:
                for r in h.run_claim(c, points[c.id]):
                    if r.subject and r.category != "agree":
                        seen[f"{r.check} [{r.dtype}] {r.category}"] += 1
        finally:
            restore()
        result[bug] = dict(sorted(seen.items()))
        print(f"{bug}:")
        for k, n in sorted(seen.items()):
            print(f"    {n:4d}  {k}")
    OUT.mkdir(exist_ok=True)
    (OUT / "planted.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
