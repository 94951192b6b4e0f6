"""The tables `bench_ourad.py` prints: medians, ratios, peak memory and ourad's goals."""
from __future__ import annotations

MEMORY_IMPLS = ("numpy (fresh temporaries)", "numpy (preallocated out=)", "ourad")


def fmt_us(v):
    return v if isinstance(v, str) else f"{v * 1e6:,.0f}" if v >= 1e-4 else f"{v * 1e6:.2f}"


def network_lines(rows, act, batch):
    lines = [f"### {act}, batch {batch}", "",
             "| implementation | forward | grad input | grad weights |", "|---|---|---|---|"]
    works = ("forward", "grad input", "grad weights")
    base = {w: rows.get(("numpy (fresh temporaries)", w)) for w in works}
    for impl in dict.fromkeys(k[0] for k in rows):
        cells = []
        for w in works:
            v = rows.get((impl, w))
            if v is None:
                cells.append("")
            elif isinstance(v, str) or not isinstance(base[w], float):
                cells.append(fmt_us(v))
            else:
                cells.append(f"{fmt_us(v)} ({v / base[w]:.2f}x)")
        lines.append(f"| {impl} | " + " | ".join(cells) + " |")
    o, f = rows.get(("ourad", "grad weights")), rows.get(("ourad", "forward"))
    if isinstance(o, float) and isinstance(f, float):
        lines.append(f"\nourad gradient / forward: {o / f:.2f} (weights), "
                     f"{rows[('ourad', 'grad input')] / f:.2f} (input)\n")
    return lines + [""]


def small_lines(out):
    lines = []
    for title, key in (("The notes' forward-mode example, full gradient on Python floats",
                        "scalar"), ("Small MLP 2 -> 16 -> 16 -> 1 (relu), gradient w.r.t. all "
                                    "weights", "small_mlp")):
        rows = {k: v for k, v in out[key].items() if isinstance(v, float)}
        ref = rows.get("micrograd (+sin, exp)") or rows.get("micrograd")
        lines += [f"## {title}, median µs", "", "| implementation | µs | / micrograd |",
                  "|---|---|---|"]
        for impl, v in sorted(rows.items(), key=lambda kv: kv[1]):
            lines.append(f"| {impl} | {fmt_us(v)} | {v / ref:.2f} |" if ref else
                         f"| {impl} | {fmt_us(v)} | |")
        lines.append("")
    return lines


def memory_lines(mem):
    lines = ["## Peak memory of the batch-256 weight gradient (tracemalloc, MB)", "",
             "| implementation | tanh | relu |", "|---|---|---|"]
    for impl in MEMORY_IMPLS:
        lines.append(f"| {impl} | {mem[f'{impl} | tanh'] / 1e6:.1f} | "
                     f"{mem[f'{impl} | relu'] / 1e6:.1f} |")
    return lines + [""]


def goal_rows(out, mem):
    """(what, ourad's ratio, the goal, whether it holds) for each of ourad's speed goals."""
    net, sc, mlp = out["network"], out["scalar"], out["small_mlp"]
    rows = [("scalar example: ourad / micrograd", sc.get("ourad"),
             sc.get("micrograd (+sin, exp)"), 1.0),
            ("scalar example: ourad / jax.jit", sc.get("ourad"), sc.get("jax.jit"), 1.5),
            ("small MLP: ourad / jax.jit", mlp.get("ourad"), mlp.get("jax.jit"), 2.0)]
    for act in ("tanh", "relu"):
        w = net[f"{act}-B256"]
        rows += [(f"batch 256 {act}, weights: ourad / torch eager",
                  w.get("ourad | grad weights"), w.get("torch eager | grad weights"), 1.0),
                 (f"batch 256 {act}, weights: ourad / numpy preallocated",
                  w.get("ourad | grad weights"), w.get("numpy (preallocated out=) | grad weights"),
                  1.05)]
        for impl in MEMORY_IMPLS[:2]:
            rows.append((f"batch 256 {act}, weights, peak memory: ourad / {impl}",
                         mem[f"ourad | {act}"], mem[f"{impl} | {act}"], 1.2))
    for act in ("tanh", "relu"):
        i = net[f"{act}-B1"]
        rows.append((f"batch 1 {act}, input: ourad / numpy (fresh temporaries)",
                     i.get("ourad | grad input"),
                     i.get("numpy (fresh temporaries) | grad input"), 1.3))
    return [(what, a / b if isinstance(a, (int, float)) and isinstance(b, (int, float)) else None,
             goal) for what, a, b, goal in rows]


def goal_lines(out, mem):
    lines = ["## ourad against its goals (ratios of medians from the tables above)", "",
             "| ratio | measured | goal | met |", "|---|---|---|---|"]
    for what, r, goal in goal_rows(out, mem):
        strict = "torch" in what   # faster than torch: strictly below 1
        met = r is not None and (r < goal if strict else r <= goal)
        lines.append(f"| {what} | {'n/a' if r is None else f'{r:.2f}'} | "
                     f"{'<' if strict else '<='} {goal:g} | {'yes' if met else 'no'} |")
    return lines + [""]
