"""Where one verdict on the notes' network's gradient spends its time: a timer around the
harness's steps (the oracles' answers, the subject's, the fd confirmation, the comparisons,
the transpose check), medians over verdicts after a warm-up, every library on one thread as
in a conformance run.

    python benchmarks/verdict_phases.py                 # first order, steady state
    python benchmarks/verdict_phases.py --warmup 1      # JAX still eager (a first verdict)

A step's time includes the steps inside it ("establish" holds the oracles' answers and the
fd confirmation; "point" holds "establish", drawing the tangent and f at the point).
"""
from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_conformance as bc  # noqa: E402  (puts the project on the path)


def _timed(table, mod, name, key=None):
    """Wrap mod.name: its wall time per call, added under `name` (+ `key(args)`)."""
    fn = getattr(mod, name)

    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            label = name + (key(*args) if key else "")
            table[label][-1] += time.perf_counter() - t0
    setattr(mod, name, wrapper)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--warmup", type=int, default=40, help="verdicts before timing")
    ap.add_argument("--rounds", type=int, default=9, help="verdicts timed")
    args = ap.parse_args(argv)
    from oracles import harness, reference, threads
    from oracles.checks import derivatives
    table = collections.defaultdict(lambda: [0.0])
    _timed(table, reference, "ask", lambda eng, kind, *a: f" {eng.name} {kind}")
    _timed(table, harness, "answer", lambda eng, kind, *a: f" (subject) {eng.name} {kind}")
    for mod, name in ((reference, "fd_confirms"), (harness, "establish"),
                      (harness, "compare"), (derivatives, "transpose"),
                      (harness.Harness, "point"), (harness.Harness, "run_claim")):
        _timed(table, mod, name)
    once = bc.verdict(first_order=True)
    for _ in range(args.warmup):
        once()
    threads.apply(bc.THREADS)
    for _ in range(args.rounds):
        for ts in table.values():
            ts.append(0.0)
        once()
    print(f"JAX compiled: {', '.join(bc.jax_compiled(once)) or 'nothing'}; medians of "
          f"{args.rounds} verdicts after {args.warmup}, ms")
    rows = {k: float(np.median(ts[-args.rounds:])) * 1e3 for k, ts in table.items()}
    for label, ms in sorted(rows.items(), key=lambda kv: -kv[1]):
        print(f"{ms:8.2f}  {label}")


if __name__ == "__main__":
    main()
