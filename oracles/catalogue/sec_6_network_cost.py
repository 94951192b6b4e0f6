"""Notes, the questions on the network R^2 -> R^1000 -> R^1000 -> R (in "Subgradients and the
RELU", after the ReLU): the printed "~10^6 flops" of each part of backprop, whether the weight
gradient is orders of magnitude slower than the input gradient, and whether the input
gradient needs the weight gradient.

Readings: "~10^6" is read as "within half a decade of 10^6" (3.2e5 to 3.2e6); the flops are
counted as ourad documents them (a multiply-add counts 2, an elementwise op 1). The network has
tanh hidden layers, no bias (the notes' equations carry none) and loss 1/2 (y - d)^2. The notes
ask whether the weight gradient is "orders of magnitude slower" and answer it only through the
two equal "~10^6"; we read their answer as "no" and check that the ratio stays under 10."""
import math

import numpy as np

import ourad
from oracles.claims import Claim, Cost, seeded

SECTION = "Subgradients and the RELU"
SIZES = [2, 1000, 1000, 1]
HALF_DECADE = (10 ** 5.5, 10 ** 6.5)


def net(xp, x, W1, W2, W3, d=0.3):
    h = xp.tanh(xp.matmul(x, W1))
    h = xp.tanh(xp.matmul(h, W2))
    y = xp.matmul(h, W3)
    return 0.5 * xp.sum((y - d) ** 2)


def make(rng):
    Ws = [rng.standard_normal((a, b)) / math.sqrt(a) for a, b in zip(SIZES, SIZES[1:])]
    return [rng.standard_normal(2)] + Ws


_CACHE = {}


def counts():
    """ourad's measured flops of the forward pass, the input gradient and the weight gradient,
    with the flops of the products that yield a weight's shape (the weight-gradient products)."""
    if _CACHE:
        return _CACHE
    arrays = make(np.random.default_rng(0))
    wshapes = {W.shape for W in arrays[1:]}

    def run(argnums):
        with ourad.count_flops() as c:
            if argnums is None:
                net(ourad.xp, *arrays)
            else:
                ourad.grad(lambda *a: net(ourad.xp, *a), argnums)(*arrays)
        weight = sum(n for name, n, shape in c.log if shape in wshapes)
        return c.total, weight

    fwd, _ = run(None)
    inp, inp_w = run(0)
    wts, wts_w = run((1, 2, 3))
    _CACHE.update({"forward": fwd, "input gradient": inp, "weight gradient": wts,
                   "backward to the input": inp - fwd,
                   "weight-gradient products (input gradient)": inp_w,
                   "weight-gradient products (weight gradient)": wts_w})
    return _CACHE


_FRAMEWORK_CACHE = {}


def framework_counts(ctx):
    """The same, counted by JAX (XLA cost analysis) and PyTorch (FlopCounterMode); computed
    once per process (each count compiles the network's gradient)."""
    key = tuple(sorted(n for n in ("jax", "torch") if n in ctx.engines))
    if key not in _FRAMEWORK_CACHE:
        _FRAMEWORK_CACHE[key] = _framework_counts(ctx)
    return _FRAMEWORK_CACHE[key]


def _framework_counts(ctx):
    arrays = make(np.random.default_rng(0))
    out = {}
    for name in ("jax", "torch"):
        eng = ctx.engines.get(name)
        if eng is None or not hasattr(eng, "flops"):
            continue
        fwd = eng.flops(net, arrays)["total"]
        out[name] = {"forward": fwd,
                     "input gradient": eng.flops(net, arrays, mode="grad", wrt=[0])["total"],
                     "weight gradient": eng.flops(net, arrays, mode="grad", wrt=[1, 2, 3])["total"]}
    return out


def _near_1e6(n):
    return HALF_DECADE[0] <= n <= HALF_DECADE[1]


def _ratio(ctx):
    c = counts()
    out = {"ourad": c["weight gradient"] / c["input gradient"]}
    for name, fc in framework_counts(ctx).items():
        out[name] = fc["weight gradient"] / fc["input gradient"]
    return out


INPUT_TEXT = (r"\frac{\partial \text{Div}}{\partial y_i^{(k)}} = \sum_j w_{ij}^{(k+1)} "
              r"\frac{\partial \text{Div}}{\partial z_j^{(k+1)}} \quad \left| "
              r"\frac{\partial \text{Div}}{\partial z_i^{(k)}} = f'_k(z_i^{(k)}) "
              r"\frac{\partial \text{Div}}{\partial y_i^{(k)}} \right.: \sim 10^6 flops")
WEIGHT_TEXT = (r"\forall j \quad \frac{\partial \text{Div}}{\partial w_{ij}^{(k+1)}} = y_i^{(k)} "
               r"\frac{\partial \text{Div}}{\partial z_j^{(k+1)}}: \sim 10^6 flops")

CLAIMS = [
    Claim(id="net-flops-backward-to-input", section=SECTION, printed=INPUT_TEXT,
          statements=(Cost("the backward pass to the input", "~10^6 flops",
                           lambda ctx: {"flops": counts()["backward to the input"]},
                           lambda m: _near_1e6(m["flops"]),
                           reading="within half a decade of 10^6"),)),
    Claim(id="net-flops-weight-gradient-products", section=SECTION, printed=WEIGHT_TEXT,
          statements=(Cost("the weight-gradient products y_i dDiv/dz_j", "~10^6 flops",
                           lambda ctx: {"flops":
                                        counts()["weight-gradient products (weight gradient)"]},
                           lambda m: _near_1e6(m["flops"]),
                           reading="within half a decade of 10^6"),)),
    Claim(id="net-weight-gradient-not-orders-slower", section=SECTION,
          printed="Would computing the gradient with respect to the network weights be orders "
                  "of magnitude slower than computing the gradient with respect to the input?",
          statements=(Cost("flops of the weight gradient over the input gradient",
                           "not orders of magnitude (both parts ~10^6 flops)", _ratio,
                           lambda m: all(r < 10 for r in m.values()),
                           reading="the notes' implied answer, no: the ratio stays under 10, "
                                   "by ourad's, JAX's and PyTorch's counts"),)),
    Claim(id="net-input-gradient-needs-no-weight-gradient", section=SECTION,
          printed="Must you computer the derivative wrt weights in order to compute derivative "
                  "wrt the input? No. The boxes in red below don't need the values in the "
                  "yellow box",
          statements=(Cost("weight-gradient products done for the input gradient", "No",
                           lambda ctx: {"flops": counts()[
                               "weight-gradient products (input gradient)"]},
                           lambda m: m["flops"] == 0),)),
    Claim(id="net-gradients", section=SECTION,
          printed=r"*Input*  $\mathbb{R}^2 \rightarrow \mathbb{R}^{1000} \rightarrow "
                  r"\mathbb{R}^{1000} \rightarrow \mathbb{R}$",
          f=net, domain=seeded(make), examples=2, jacobian=False,
          reading="the notes' network itself, every engine's gradient with respect to the "
                  "input and all 1,004,002 weights"),
]
