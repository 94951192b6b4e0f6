"""The harness's own cost: the wall time of the default conformance run (serial and -n 2),
and the cost of verifying one gradient of the notes' network against
torch.autograd.gradcheck on the same function.

    python benchmarks/bench_conformance.py              # everything
    python benchmarks/bench_conformance.py --no-runs    # skip the full conformance runs
    python benchmarks/bench_conformance.py --runs 3 --no-slow   # the README's tables

The conformance runs: one to fill the caches, then `--runs` pairs (serial, `-n 2`) run
alternately with the caches warm, and as many with JAX's and the formulas' caches empty
(cold, as on a fresh machine); medians and their ratio.

Verifying the gradient "with our checks" is what the conformance run does for one drawn
input of the network claim: the subject's VJP along a random cotangent against the reference
(JAX and PyTorch agreeing, confirmed by finite differences along the point's tangent: O(1)
evaluations of f, whatever the number of parameters), plus the subject's JVP against its own
VJP. gradcheck's fast mode checks one random projection of the Jacobian against finite
differences; its slow mode forms the whole numerical Jacobian, one perturbation per
parameter, and is given a time limit. The ways of verifying are timed round-robin, once
each per round, medians of `--rounds`: "verified once" keeps the JAX oracle eager (a first
verdict), "again and again" lets it compile the network's programs first (see
`oracles.jax_engine.COMPILE_AFTER`). Every library runs one thread, as in a conformance
run (`--ad-threads 1`): with their own thread pools, PyTorch's and XLA's threads contend
on two cores and gradcheck alone took 0.023 to 0.117 s depending on what ran before it.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OUT = Path(__file__).resolve().parent / "out"
SLOW_LIMIT_S = 120
THREADS = 1          # the conformance run's default (`--ad-threads`): one thread per library
MAX_WARMUP = 200     # verdicts at most before the steady state is timed (JAX compiles at 20)


def net(xp, x, W1, b1, W2, b2, W3, b3):
    h = xp.tanh(xp.matmul(x, W1) + b1)
    h = xp.tanh(xp.matmul(h, W2) + b2)
    return 0.5 * xp.sum((xp.matmul(h, W3) + b3 - 0.3) ** 2)


def make(seed=0):
    rng = np.random.default_rng(seed)
    sizes = [2, 1000, 1000, 1]
    arrays = [rng.standard_normal((1, 2))]
    for a, b in zip(sizes, sizes[1:]):
        arrays += [rng.standard_normal((a, b)) / math.sqrt(a), 0.1 * rng.standard_normal(b)]
    return arrays


def verdict(first_order=False, compile_jax=True):
    """A function that runs the whole verdict of one drawn input, the harness kept between
    calls; with `first_order`, what gradcheck checks: the first derivatives in float64 (the
    derivatives check alone). Without `compile_jax`, every verdict is a first one for the
    JAX oracle (its count of asks is forgotten, so it never compiles the network's
    programs, as a gradient verified once); with it, the oracle compiles a question from
    its `COMPILE_AFTER`-th ask (a gradient verified again and again)."""
    import oracles
    from oracles import checks
    from oracles.claims import Claim
    from oracles.harness import Harness
    from oracles.reproduce import RunOptions
    arrays = make()
    claim = Claim(id="bench-net", section="bench", printed="net", f=net,
                  domain=_dummy(), jacobian=False)   # inputs are given, not drawn
    h = Harness([oracles.engine("ourad-reverse")],
                {n: oracles.engine(n) for n in ("jax", "torch", "fd")},
                options=RunOptions(dtypes=("float64",) if first_order else
                                   ("float64", "float32"), shrink=0))

    def once():
        if not compile_jax:
            getattr(h.oracles["jax"], "_asks", {}).clear()   # (an earlier commit: none)
        saved = checks.PER_POINT
        if first_order:
            checks.PER_POINT = (checks.derivatives,)
        try:
            return h.run_claim(claim, [arrays])
        finally:
            checks.PER_POINT = saved
    once.harness = h
    return once


def jax_compiled(once) -> list:
    """The kinds of question the JAX oracle of a `verdict` answers compiled."""
    return sorted(k[1] for k, fn in once.harness.oracles["jax"]._compiled.items()
                  if len(k) == 3 and k[2] == "large" and callable(fn))


def quick():
    import oracles
    from oracles.harness import quick_check
    arrays = make()
    eng = oracles.engine("ourad-reverse")
    return lambda: quick_check(eng, net, arrays)


def _dummy():
    from hypothesis import strategies as st
    return st.just(())


def gradcheck_fast():
    import torch
    arrays = [torch.tensor(a, requires_grad=True) for a in make()]
    fn = lambda *a: net(_TorchNS, *a)  # noqa: E731
    return lambda: torch.autograd.gradcheck(fn, arrays, fast_mode=True)


def verification_times(rounds: int) -> dict:
    """Each way of verifying the gradient timed once per round, round-robin (a slow spell
    of the machine hits them alike), after warming up: medians (s), with what each said."""
    from oracles import threads
    fns = {"every": verdict(), "first": verdict(first_order=True, compile_jax=False),
           "steady": verdict(first_order=True), "quick": quick(), "gradcheck": gradcheck_fast()}
    answers = {name: fn() for name, fn in fns.items()}   # imports, first dispatch
    threads.apply(THREADS)   # as the conformance run does, for every way alike
    warm = 1
    while len(jax_compiled(fns["steady"])) < 2 and warm < MAX_WARMUP:
        fns["steady"]()
        warm += 1
    times = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            answers[name] = fn()
            times[name].append(time.perf_counter() - t0)
    out = {name: float(np.median(ts)) for name, ts in times.items()}
    out["verdicts"] = {name: sorted({(r.engine, r.check, r.dtype, r.category) for r in recs})
                       for name, recs in answers.items() if name in ("every", "first", "steady")}
    out["quick_verdict"] = answers["quick"].category
    out["gradcheck_ok"] = bool(answers["gradcheck"])
    out["steady_warmup"], out["jax_compiled"] = warm, jax_compiled(fns["steady"])
    out["first_jax_compiled"] = jax_compiled(fns["first"])
    return out


class _TorchNS:
    import torch as _t
    tanh, matmul, sum = _t.tanh, _t.matmul, _t.sum


def gradcheck_slow():
    code = ("import sys, time; sys.path.insert(0, %r); sys.path.insert(0, %r)\n"
            "import torch, bench_conformance as b\n"
            "arrays = [torch.tensor(a, requires_grad=True) for a in b.make()]\n"
            "t0 = time.perf_counter()\n"
            "torch.autograd.gradcheck(lambda *a: b.net(b._TorchNS, *a), arrays)\n"
            "print(time.perf_counter() - t0)\n") % (str(ROOT), str(Path(__file__).parent))
    try:
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           timeout=SLOW_LIMIT_S)
        return float(p.stdout.strip().splitlines()[-1])
    except subprocess.TimeoutExpired:
        return None


def gradcheck_fast_alone(rounds: int) -> float:
    """gradcheck's fast mode in a process of its own with PyTorch's own threads, as someone
    runs it (nothing else ran there before it): the median of `rounds` after one to warm."""
    code = ("import sys, time, statistics; sys.path.insert(0, %r); sys.path.insert(0, %r)\n"
            "import bench_conformance as b\n"
            "g = b.gradcheck_fast(); g(); ts = []\n"
            "for _ in range(%d):\n"
            "    t0 = time.perf_counter(); g(); ts.append(time.perf_counter() - t0)\n"
            "print(statistics.median(ts))\n") % (str(ROOT), str(Path(__file__).parent),
                                                 rounds)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       check=True)
    return float(p.stdout.strip().splitlines()[-1])


def conformance_wall(extra, cold=False):
    """Wall time of `pytest tests/notes` (plus `extra`) and its exit status; `cold`: with
    JAX's compilation cache and the formulas' cache empty, as on a fresh machine."""
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as tmp:
        if cold:
            env.update(AD_JAX_CACHE=os.path.join(tmp, "jax"),
                       AD_MATH_CACHE=os.path.join(tmp, "math"))
        t0 = time.perf_counter()
        p = subprocess.run([sys.executable, "-m", "pytest", "tests/notes", "-q", "-p",
                            "no:cacheprovider", "--ad-report-dir", str(OUT / "conformance"),
                            *extra], cwd=ROOT, capture_output=True, text=True, env=env)
        return time.perf_counter() - t0, p.returncode


def conformance_runs(repeats):
    """Serial and `-n 2` alternately, `repeats` pairs warm (the caches as they are, after
    one run to fill them) and `repeats` pairs cold: medians, their ratio, the exit codes."""
    conformance_wall([])   # fills the caches
    rows = {}
    for cache in ("warm", "cold"):
        times = {"serial": [], "-n 2": []}
        codes = set()
        for _ in range(repeats):
            for name, extra in (("serial", []), ("-n 2", ["-n", "2"])):
                t, rc = conformance_wall(extra, cold=cache == "cold")
                times[name].append(t)
                codes.add(rc)
        serial, par = (float(np.median(times[k])) for k in ("serial", "-n 2"))
        rows[cache] = {"serial_s": serial, "n2_s": par, "ratio": serial / par,
                       "serial_all": times["serial"], "n2_all": times["-n 2"],
                       "exit": sorted(codes)}
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-runs", action="store_true", help="skip the full conformance runs")
    ap.add_argument("--runs", type=int, default=3,
                    help="pairs of conformance runs (serial, -n 2) warm and again cold")
    ap.add_argument("--rounds", type=int, default=9,
                    help="round-robin rounds of the verification timings")
    ap.add_argument("--no-slow", action="store_true",
                    help="skip gradcheck's slow mode (it runs up to its time limit)")
    args = ap.parse_args(argv)
    OUT.mkdir(exist_ok=True)
    result = {}
    n_params = sum(a.size for a in make()[1:])
    v = verification_times(args.rounds)
    v["gradcheck_alone"] = alone = gradcheck_fast_alone(args.rounds)
    t_slow = None if args.no_slow else gradcheck_slow()
    result["verify_gradient"] = dict(v, parameters=int(n_params), rounds=args.rounds,
                                     gradcheck_slow_s=t_slow,
                                     gradcheck_slow_limit_s=SLOW_LIMIT_S)
    fast = v["gradcheck"]
    row = lambda what, t: f"| {what} | {t:.3f} | {t / fast:.2f} | {t / alone:.2f} |"  # noqa: E731
    lines = [f"## Verifying one gradient of the notes' network ({n_params:,} parameters), "
             f"median s of {args.rounds} rounds, round-robin, one thread per library", "",
             "| check | s | / gradcheck fast (same conditions) | / gradcheck fast alone, "
             "its own threads |", "|---|---|---|---|",
             row("ours, every check (ourad-reverse against jax + torch + fd; second order, "
                 "Taylor, float32), verified once", v["every"]),
             row("ours, first order in float64 (what gradcheck checks), verified once",
                 v["first"]),
             row(f"the same, verified again and again (after {v['steady_warmup']} verdicts: "
                 f"JAX compiled {' and '.join(v['jax_compiled']) or 'nothing'})",
                 v["steady"]),
             row("ours, `quick_check` (one VJP against fd along one direction)", v["quick"]),
             row("torch.autograd.gradcheck, fast_mode=True", fast),
             row("torch.autograd.gradcheck, fast_mode=True, alone in a process of its own "
                 "with PyTorch's own threads", alone),
             "| torch.autograd.gradcheck, slow mode | "
             + (f"{t_slow:.1f} | {t_slow / fast:.0f} | {t_slow / alone:.0f} |"
                if t_slow is not None else "not run |  |  |" if args.no_slow else
                f"did not finish in {SLOW_LIMIT_S} s | > {SLOW_LIMIT_S / fast:.0f} | "
                f"> {SLOW_LIMIT_S / alone:.0f} |"), ""]
    if not args.no_runs:
        rows = conformance_runs(args.runs)
        result["conformance_run"] = rows
        lines += ["## The default conformance run (`pytest tests/notes`), wall time s, "
                  f"medians of {args.runs} alternating pairs", "",
                  "| caches | serial | `-n 2` | serial / `-n 2` | exit |", "|---|---|---|---|---|"]
        lines += [f"| {cache} | {r['serial_s']:.1f} | {r['n2_s']:.1f} | {r['ratio']:.2f} | "
                  f"{', '.join(map(str, r['exit']))} |" for cache, r in rows.items()]
        lines.append("")
    text = "\n".join(lines)
    print(text)
    (OUT / "bench_conformance.md").write_text(text)
    (OUT / "bench_conformance.json").write_text(json.dumps(result, indent=1, default=str))


if __name__ == "__main__":
    main()
