"""ourad's speed against NumPy hand-written backprop, torch, jax, HIPS autograd and micrograd.

    python benchmarks/bench_ourad.py            # prints markdown tables of medians and ratios
    python benchmarks/bench_ourad.py --quick    # fewer repeats

Every workload is timed in this one process, round-robin, as a median of repeated timeit runs,
and reported as a ratio to the NumPy hand-written backprop (the practical limit of a
NumPy-based AD); a last table gives ourad's ratios to the baselines its goals name. Peak
memory of the batch-256 weight gradient is measured with tracemalloc (NumPy reports its arrays
to it), each implementation in a fresh process. Absolute times drift between machines; the
ratios measured in one run are the result. The OPENBLAS variables are left as they are.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import timeit
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import ourad  # noqa: E402
from ourad import xp  # noqa: E402

from bench_ourad_report import (MEMORY_IMPLS, goal_lines, memory_lines,  # noqa: E402
                                network_lines, small_lines)

OUT = Path(__file__).resolve().parent / "out"


def interleaved(fns: dict, number, rounds: int) -> dict:
    """Median seconds per call of each function, measured round-robin: every round times
    each function once, so that a slow spell of a shared machine hits all of them alike.
    `number` is the calls per timing, or a dict of them by key."""
    times = {k: [] for k in fns}
    ok = {}
    per = number if isinstance(number, dict) else {k: number for k in fns}
    for k, fn in fns.items():
        try:
            fn()   # warm up (and compile, for jax.jit)
            ok[k] = fn
        except Exception as exc:  # noqa: BLE001 -- a framework that cannot run is reported
            times[k] = f"n/a ({type(exc).__name__})"
    for _ in range(rounds):
        for k, fn in ok.items():
            times[k].append(timeit.timeit(fn, number=per[k]) / per[k])
    return {k: (float(np.median(v)) if isinstance(v, list) else v) for k, v in times.items()}


# --- the notes' network R^2 -> R^1000 -> R^1000 -> R ---------------------------------------------

def make_net(batch, seed=0):
    rng = np.random.default_rng(seed)
    sizes = [2, 1000, 1000, 1]
    params = []
    for a, b in zip(sizes, sizes[1:]):
        params += [rng.standard_normal((a, b)) / math.sqrt(a), 0.1 * rng.standard_normal(b)]
    x = rng.standard_normal((batch, 2))
    t = rng.standard_normal((batch, 1))
    return x, t, params


def loss_generic(ns, act, x, t, W1, b1, W2, b2, W3, b3):
    h = act(x @ W1 + b1)
    h = act(h @ W2 + b2)
    o = h @ W3 + b3
    return 0.5 * ns.sum((o - t) ** 2)


def numpy_backprop(act, x, t, params, want="weights"):
    """Hand-written backprop with fresh temporaries (as anyone writes it first)."""
    W1, b1, W2, b2, W3, b3 = params
    z1 = x @ W1 + b1
    h1 = np.tanh(z1) if act == "tanh" else np.maximum(z1, 0)
    z2 = h1 @ W2 + b2
    h2 = np.tanh(z2) if act == "tanh" else np.maximum(z2, 0)
    o = h2 @ W3 + b3
    g = o - t
    d = (lambda h, z: 1 - h * h) if act == "tanh" else (lambda h, z: (z >= 0).astype(z.dtype))
    gh2 = g @ W3.T
    gz2 = gh2 * d(h2, z2)
    gh1 = gz2 @ W2.T
    gz1 = gh1 * d(h1, z1)
    if want == "input":
        return gz1 @ W1.T
    return (x.T @ gz1, gz1.sum(0), h1.T @ gz2, gz2.sum(0), h2.T @ g, g.sum(0))


class NumpyPrealloc:
    """Hand-written backprop into preallocated buffers (`out=`): the faster NumPy limit."""

    def __init__(self, act, x, t, params):
        B = x.shape[0]
        self.act, self.x, self.t, self.p = act, x, t, params
        f = lambda *s: np.empty(s)  # noqa: E731
        self.z1, self.z2, self.h1, self.h2 = f(B, 1000), f(B, 1000), f(B, 1000), f(B, 1000)
        self.o, self.gh2, self.gh1, self.tmp = f(B, 1), f(B, 1000), f(B, 1000), f(B, 1000)
        self.gW1, self.gW2, self.gW3 = f(2, 1000), f(1000, 1000), f(1000, 1)
        self.gx = f(B, 2)

    def _d(self, h, z, out):
        if self.act == "tanh":
            np.multiply(h, h, out=out)
            np.subtract(1.0, out, out=out)
        else:
            np.greater_equal(z, 0, out=out)

    def __call__(self, want="weights"):
        W1, b1, W2, b2, W3, b3 = self.p
        np.matmul(self.x, W1, out=self.z1)
        self.z1 += b1
        (np.tanh(self.z1, out=self.h1) if self.act == "tanh"
         else np.maximum(self.z1, 0, out=self.h1))
        np.matmul(self.h1, W2, out=self.z2)
        self.z2 += b2
        (np.tanh(self.z2, out=self.h2) if self.act == "tanh"
         else np.maximum(self.z2, 0, out=self.h2))
        np.matmul(self.h2, W3, out=self.o)
        self.o += b3
        g = self.o
        g -= self.t
        np.matmul(g, W3.T, out=self.gh2)
        self._d(self.h2, self.z2, self.tmp)
        self.gh2 *= self.tmp
        np.matmul(self.gh2, W2.T, out=self.gh1)
        self._d(self.h1, self.z1, self.tmp)
        self.gh1 *= self.tmp
        if want == "input":
            return np.matmul(self.gh1, W1.T, out=self.gx)
        np.matmul(self.x.T, self.gh1, out=self.gW1)
        np.matmul(self.h1.T, self.gh2, out=self.gW2)
        np.matmul(self.h2.T, g, out=self.gW3)
        return (self.gW1, self.gh1.sum(0), self.gW2, self.gh2.sum(0), self.gW3, g.sum(0))


def network_rows(act, batch, quick):
    x, t, params = make_net(batch)
    n_rep = 5 if quick else 11
    number = 2 if batch > 1 else 20
    fns = {}

    def add(impl, work, fn):
        fns[(impl, work)] = fn

    np_act = np.tanh if act == "tanh" else (lambda z: np.maximum(z, 0))
    add("numpy (fresh temporaries)", "forward", lambda: loss_generic(np, np_act, x, t, *params))
    add("numpy (fresh temporaries)", "grad input", lambda: numpy_backprop(act, x, t, params, "input"))
    add("numpy (fresh temporaries)", "grad weights", lambda: numpy_backprop(act, x, t, params))
    pre = NumpyPrealloc(act, x, t, params)
    add("numpy (preallocated out=)", "grad input", lambda: pre("input"))
    add("numpy (preallocated out=)", "grad weights", lambda: pre("weights"))

    o_act = xp.tanh if act == "tanh" else xp.relu
    o_loss = lambda *a: loss_generic(xp, o_act, a[0], t, *a[1:])  # noqa: E731
    add("ourad", "forward", lambda: o_loss(x, *params))
    g_in = ourad.grad(o_loss, 0)
    g_w = ourad.grad(o_loss, (1, 2, 3, 4, 5, 6))
    add("ourad", "grad input", lambda: g_in(x, *params))
    add("ourad", "grad weights", lambda: g_w(x, *params))
    for frameworks in (_torch_network, _jax_network, _autograd_network):
        try:
            frameworks(add, act, x, t, params)
        except ImportError:
            pass
    return interleaved(fns, number, n_rep)


def _torch_network(add, act, x, t, params):
    import torch
    torch.set_num_threads(_PINNED[0] or os.cpu_count() or 2)
    tt = [torch.tensor(a) for a in [x, t] + params]
    t_act = torch.tanh if act == "tanh" else torch.relu
    t_loss = lambda *a: loss_generic(torch, t_act, a[0], tt[1], *a[1:])  # noqa: E731
    add("torch eager", "forward", lambda: t_loss(tt[0], *tt[2:]))

    def torch_grad(which):
        args = [tt[0].clone().requires_grad_(which == "input")] + \
            [p.detach().requires_grad_(which == "weights") for p in tt[2:]]
        out = t_loss(*args)
        return torch.autograd.grad(out, [args[0]] if which == "input" else args[1:])
    add("torch eager", "grad input", lambda: torch_grad("input"))
    add("torch eager", "grad weights", lambda: torch_grad("weights"))
    fgi = torch.func.grad(t_loss, argnums=0)
    fgw = torch.func.grad(t_loss, argnums=(1, 2, 3, 4, 5, 6))
    add("torch.func", "grad input", lambda: fgi(tt[0], *tt[2:]))
    add("torch.func", "grad weights", lambda: fgw(tt[0], *tt[2:]))


def _jax_network(add, act, x, t, params):
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    ja = [jnp.asarray(a) for a in [x, t] + params]
    j_act = jnp.tanh if act == "tanh" else jax.nn.relu
    j_loss = lambda *a: loss_generic(jnp, j_act, a[0], ja[1], *a[1:])  # noqa: E731
    jf = jax.jit(j_loss)
    jgi, jgw = jax.grad(j_loss, 0), jax.grad(j_loss, (1, 2, 3, 4, 5, 6))
    jjgi, jjgw = jax.jit(jgi), jax.jit(jgw)
    block = lambda r: jax.block_until_ready(r)  # noqa: E731
    add("jax.jit", "forward", lambda: block(jf(ja[0], *ja[2:])))
    add("jax.jit", "grad input", lambda: block(jjgi(ja[0], *ja[2:])))
    add("jax.jit", "grad weights", lambda: block(jjgw(ja[0], *ja[2:])))
    add("jax (no jit)", "grad input", lambda: block(jgi(ja[0], *ja[2:])))
    add("jax (no jit)", "grad weights", lambda: block(jgw(ja[0], *ja[2:])))


def _autograd_network(add, act, x, t, params):
    import autograd
    import autograd.numpy as anp
    a_act = anp.tanh if act == "tanh" else (lambda z: anp.maximum(z, 0))
    a_loss = lambda *a: loss_generic(anp, a_act, a[0], t, *a[1:])  # noqa: E731
    agi = autograd.grad(a_loss, 0)
    agw = autograd.grad(lambda ps, xx: a_loss(xx, *ps), 0)
    add("autograd", "grad input", lambda: agi(x, *params))
    add("autograd", "grad weights", lambda: agw(list(params), x))


# --- the notes' forward-mode example on Python floats ---------------------------------------------

def _micrograd_scalar():
    """The notes' example in micrograd, with the sin and exp it lacks added its way."""
    from micrograd.engine import Value

    def m_sin(v):
        out = Value(math.sin(v.data), (v,), "sin")

        def _backward():
            v.grad += math.cos(v.data) * out.grad
        out._backward = _backward
        return out

    def m_exp(v):
        out = Value(math.exp(v.data), (v,), "exp")

        def _backward():
            v.grad += out.data * out.grad
        out._backward = _backward
        return out

    def micro():
        x1, x2 = Value(1.5), Value(0.5)
        v1 = x1 / x2
        y = (m_sin(v1) + v1 - m_exp(x2)) * (v1 - m_exp(x2))
        y.backward()
        return x1.grad, x2.grad
    return micro


def scalar_rows(quick):
    rows, numbers = {}, {}
    n_rep = 5 if quick else 11

    def f(x1, x2):
        v1 = x1 / x2
        return (xp.sin(v1) + v1 - xp.exp(x2)) * (v1 - xp.exp(x2))

    g = ourad.grad(f, (0, 1))
    rows["ourad"], numbers["ourad"] = lambda: g(1.5, 0.5), 2000

    def hand(x1, x2):
        v1 = x1 / x2
        s, c, e = math.sin(v1), math.cos(v1), math.exp(x2)
        a, b = s + v1 - e, v1 - e
        da, db = b, a       # d f / d a, d f / d b
        dv1 = da * (c + 1) + db
        de = -da - db
        return dv1 / x2, -dv1 * v1 / x2 + de * e
    rows["hand-written Python"], numbers["hand-written Python"] = lambda: hand(1.5, 0.5), 20000

    try:
        rows["micrograd (+sin, exp)"] = _micrograd_scalar()
        numbers["micrograd (+sin, exp)"] = 2000
    except ImportError:
        pass
    try:
        import torch

        def tor():
            a = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
            b = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
            v1 = a / b
            y = (torch.sin(v1) + v1 - torch.exp(b)) * (v1 - torch.exp(b))
            return torch.autograd.grad(y, (a, b))
        rows["torch eager 0-d"], numbers["torch eager 0-d"] = tor, 500
    except ImportError:
        pass
    try:
        import autograd
        import autograd.numpy as anp
        ag = autograd.grad(lambda v: (anp.sin(v[0] / v[1]) + v[0] / v[1] - anp.exp(v[1]))
                           * (v[0] / v[1] - anp.exp(v[1])))
        rows["autograd"], numbers["autograd"] = lambda: ag(np.array([1.5, 0.5])), 500
    except ImportError:
        pass
    try:
        import jax
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
        jg = jax.jit(jax.grad(lambda a, b: (jnp.sin(a / b) + a / b - jnp.exp(b))
                              * (a / b - jnp.exp(b)), (0, 1)))
        rows["jax.jit"], numbers["jax.jit"] = lambda: jax.block_until_ready(jg(1.5, 0.5)), 500
    except ImportError:
        pass
    return interleaved(rows, numbers, n_rep)


# --- a small MLP 2 -> 16 -> 16 -> 1, relu ------------------------------------------------------------

def small_mlp_rows(quick):
    rows, numbers = {}, {}
    n_rep = 5 if quick else 11
    rng = np.random.default_rng(0)
    sizes = [2, 16, 16, 1]
    params = []
    for a, b in zip(sizes, sizes[1:]):
        params += [rng.standard_normal((a, b)) / math.sqrt(a), np.zeros(b)]
    x, t = rng.standard_normal(2), 0.3

    def loss(ns, relu, x, *p):
        h = relu(x @ p[0] + p[1])
        h = relu(h @ p[2] + p[3])
        o = h @ p[4] + p[5]
        return 0.5 * ns.sum((o - t) ** 2)

    gw = ourad.grad(lambda *p: loss(xp, xp.relu, x, *p), (0, 1, 2, 3, 4, 5))
    rows["ourad"], numbers["ourad"] = lambda: gw(*params), 200
    rows["numpy hand-written"], numbers["numpy hand-written"] = lambda: _small_numpy(x, t, params), 2000
    try:
        import torch
        tp = [torch.tensor(p) for p in params]
        tx = torch.tensor(x)

        def tg():
            ps = [p.detach().requires_grad_() for p in tp]
            return torch.autograd.grad(loss(torch, torch.relu, tx, *ps), ps)
        rows["torch eager"], numbers["torch eager"] = tg, 200
    except ImportError:
        pass
    try:
        import jax
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
        jp = [jnp.asarray(p) for p in params]
        jg = jax.jit(jax.grad(lambda *p: loss(jnp, jax.nn.relu, jnp.asarray(x), *p),
                              (0, 1, 2, 3, 4, 5)))
        rows["jax.jit"], numbers["jax.jit"] = lambda: jax.block_until_ready(jg(*jp)), 500
    except ImportError:
        pass
    try:
        import autograd
        import autograd.numpy as anp
        ag = autograd.grad(lambda ps: loss(anp, lambda z: anp.maximum(z, 0), x, *ps))
        rows["autograd"], numbers["autograd"] = lambda: ag(list(params)), 100
    except ImportError:
        pass
    try:
        from micrograd.nn import MLP
        m = MLP(2, [16, 16, 1])

        def mg():
            m.zero_grad()
            out = m([float(x[0]), float(x[1])])
            (0.5 * (out - t) * (out - t)).backward()
        rows["micrograd"], numbers["micrograd"] = mg, 20
    except ImportError:
        pass
    return interleaved(rows, numbers, n_rep)


def _small_numpy(x, t, p):
    z1 = x @ p[0] + p[1]
    h1 = np.maximum(z1, 0)
    z2 = h1 @ p[2] + p[3]
    h2 = np.maximum(z2, 0)
    o = h2 @ p[4] + p[5]
    g = o - t
    gz2 = (g @ p[4].T) * (z2 >= 0)
    gz1 = (gz2 @ p[2].T) * (z1 >= 0)
    return np.outer(x, gz1), gz1, np.outer(h1, gz2), gz2, np.outer(h2, g), g


# --- peak memory of the batch-256 weight gradient ----------------------------------------------

def weight_gradient(impl, act, x, t, params):
    """`impl`'s gradient of the notes' network w.r.t. all weights, as a function of nothing."""
    if impl == "numpy (fresh temporaries)":
        return lambda: numpy_backprop(act, x, t, params)
    if impl == "numpy (preallocated out=)":
        pre = NumpyPrealloc(act, x, t, params)
        return lambda: pre("weights")
    o_act = xp.tanh if act == "tanh" else xp.relu
    g_w = ourad.grad(lambda *a: loss_generic(xp, o_act, a[0], t, *a[1:]), (1, 2, 3, 4, 5, 6))
    return lambda: g_w(x, *params)


def peak_memory(impl, act, batch=256, calls=3):
    """Peak bytes traced while `impl` sets up its weight gradient and runs it `calls` times,
    each result kept while the next is computed (as in a training loop), counted from before
    its first allocation: buffers kept between calls count."""
    x, t, params = make_net(batch)
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    fn = weight_gradient(impl, act, x, t, params)
    result = None
    for _ in range(calls):
        result = fn()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    del result
    return peak


def memory_rows():
    """Peak bytes of each implementation in `MEMORY_IMPLS`, each in a fresh process."""
    out = {}
    for act in ("tanh", "relu"):
        for impl in MEMORY_IMPLS:
            run = subprocess.run([sys.executable, __file__, "--peak-memory", impl, act],
                                 capture_output=True, text=True, check=True)
            out[f"{impl} | {act}"] = int(run.stdout.split()[-1])
    return out


_PINNED = [0]   # the threads every library was pinned to (0: their own)


def pin_threads(n: int) -> None:
    """Every framework imported first, then each library's threads pinned to `n`."""
    for name in ("torch", "jax", "autograd"):
        try:
            __import__(name)
        except ImportError:
            pass
    from oracles import threads
    _PINNED[0] = n
    threads.apply(n)
    print(f"threads: {threads.report()}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats")
    ap.add_argument("--tune-allocator", action="store_true",
                    help="call ourad.tune_allocator() first (it changes glibc's settings for "
                         "the whole process, so every implementation gets it)")
    ap.add_argument("--threads", type=int, default=0,
                    help="pin every library (BLAS, OpenMP, PyTorch) to this many threads, as "
                         "a conformance run does (`--ad-threads`); 0 (default): their own")
    ap.add_argument("--peak-memory", nargs=2, metavar=("IMPL", "ACT"),
                    help=argparse.SUPPRESS)   # one measurement, in the child process
    args = ap.parse_args(argv)
    if args.peak_memory:
        print(peak_memory(*args.peak_memory))
        return
    if args.tune_allocator:
        print(f"tune_allocator: {ourad.tune_allocator()}")
    if args.threads:
        pin_threads(args.threads)
    out = {"network": {}, "scalar": scalar_rows(args.quick), "small_mlp": small_mlp_rows(args.quick)}
    lines = ["## The notes' network R^2 -> R^1000 -> R^1000 -> R (float64), median µs; "
             "ratio to NumPy hand-written backprop (fresh temporaries) in brackets", ""]
    for act in ("tanh", "relu"):
        for batch in (1, 256):
            rows = network_rows(act, batch, args.quick)
            out["network"][f"{act}-B{batch}"] = {f"{k[0]} | {k[1]}": v for k, v in rows.items()}
            lines += network_lines(rows, act, batch)
    out["peak_memory"] = memory_rows()
    lines += small_lines(out) + memory_lines(out["peak_memory"]) + \
        goal_lines(out, out["peak_memory"])
    text = "\n".join(lines)
    print(text)
    OUT.mkdir(exist_ok=True)
    tag = ("-tuned" if args.tune_allocator else "") + \
        (f"-threads{args.threads}" if args.threads else "")
    (OUT / f"bench_ourad{tag}.md").write_text(text)
    (OUT / f"bench_ourad{tag}.json").write_text(json.dumps(out, indent=1, default=str))


if __name__ == "__main__":
    main()
