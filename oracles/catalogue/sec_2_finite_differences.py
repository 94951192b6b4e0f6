"""Notes section "Finite differences": the forward-difference formula, its cost (n + 1
evaluations for n inputs) and its behaviour in h, and the benefits/challenges table."""
import numpy as np

from oracles.claims import Claim, Cost, Statement, scalars
from oracles.fd import FiniteDifferences

SECTION = "Finite differences"
FORMULA = (r"\frac{\partial f}{\partial x_i} \approx \frac{f(x + h\mathbf{e}_i) - f(x)}{h}")
EPS = np.finfo(float).eps


def f_example(xp, x):
    """A smooth f: R^n -> R to try the formula on."""
    return xp.sum(xp.sin(x) * x + xp.exp(0.3 * x))


def df_example(x):
    return np.cos(x) * x + np.sin(x) + 0.3 * np.exp(0.3 * x)


def _approximation(ctx):
    """The formula with the step the error model picks, h = 2 sqrt(eps |f| / |f''|), and the
    error that model predicts."""
    x = np.linspace(-1.5, 2.0, 6)
    fd = FiniteDifferences()
    h = 2 * np.sqrt(EPS * abs(float(f_example(np, x))) / 2.0)   # |f''| <= 2 here
    g = fd.gradient(f_example, x, h=h)
    err = float(np.max(np.abs(g - df_example(x))))
    bound = h / 2 * 2.5 + 2 * 4 * EPS * abs(float(f_example(np, x))) / h
    return {"h": h, "max error": err, "error model's bound": bound}


def _evaluations(ctx):
    """Evaluations of f by the notes' method, counted by a wrapper around f (independently of
    fd's own counter), one point per call as the formula reads. (fd.gradient's batched mode
    first tries all n + 1 points in one call; for a function that does not map a batch axis
    that try is wasted, and it would be counted too.)"""
    counts = {}
    for n in (1, 10, 100):
        seen = []

        def counted(xp, x):
            seen.append(1)
            return f_example(xp, x)
        FiniteDifferences().gradient(counted, np.linspace(-1, 1, n), h=1e-7, batched=False)
        counts[n] = len(seen)
    return counts


def _slopes(ctx):
    """log-log slopes of the forward-difference error of sin at 1, for large and small h."""
    fd = FiniteDifferences()
    f = lambda xp, x: xp.sin(x)  # noqa: E731
    big, small = np.geomspace(1e-1, 1e-4, 7), np.geomspace(1e-10, 1e-14, 9)
    e_big = fd.error_curve(f, [np.array(1.0)], [np.array(1.0)], np.cos(1.0), big)
    e_small = fd.error_curve(f, [np.array(1.0)], [np.array(1.0)], np.cos(1.0), small)
    return {"slope, large h": float(np.polyfit(np.log(big), np.log(e_big), 1)[0]),
            "slope, small h": float(np.polyfit(np.log(small),
                                               np.log(np.maximum(e_small, 1e-300)), 1)[0])}


def _black_box(ctx):
    """A function that only NumPy can evaluate (it converts its input to a plain array, so
    no AD engine can trace it) still gets its gradient from finite differences."""
    opaque = lambda xp, x: float(np.sum(np.sin(np.asarray(x, float)) ** 2))  # noqa: E731
    x = np.array([0.3, -0.7, 1.1])
    g = FiniteDifferences().gradient(opaque, x, h=1e-7, batched=False)
    return {"max error": float(np.max(np.abs(g - np.sin(2 * x))))}


CLAIMS = [
    Claim(id="fd-forward-difference-formula", section=SECTION, printed=FORMULA,
          statements=(Statement(
              "the formula approximates the partial derivative", FORMULA, _approximation,
              lambda m: m["max error"] <= m["error model's bound"],
              reading="'approximately' read as: within the error model's bound, truncation "
                      "h |f''| / 2 plus roundoff 2 eps |f| / h, at the step that balances them"),)),
    Claim(id="fd-cost-n-plus-1", section=SECTION,
          printed=r"Requires $O(n)$ evaluations: $\mathbf{e}_1, \mathbf{e}_2, \mathbf{e}_3, "
                  r"\dots, \mathbf{e}_n$; n+1 forward passes of $f$",
          statements=(Cost("n + 1 evaluations of f for n inputs", "n+1 forward passes of f",
                           _evaluations, lambda m: all(v == n + 1 for n, v in m.items())),)),
    Claim(id="fd-choose-h", section=SECTION,
          printed="Choose value of $h$; Numerical instability if $h$ small inaccurate if $h$ "
                  "large",
          statements=(Statement(
              "the error grows for large h and for small h",
              "Numerical instability if h small inaccurate if h large", _slopes,
              lambda m: 0.8 < m["slope, large h"] < 1.2 and m["slope, small h"] < -0.5,
              reading="inaccurate for large h: error ~ h (slope +1); unstable for small h: "
                      "error ~ eps / h (slope -1), measured for sin at 1"),)),
    Claim(id="fd-black-box", section=SECTION,
          printed="Only need black box access to $f$",
          statements=(Statement("the gradient needs only evaluations of f",
                                "Only need black box access to f", _black_box,
                                lambda m: m["max error"] < 1e-6),)),
    Claim(id="fd-gradient-matches-ad", section=SECTION, printed=FORMULA, f=f_example,
          domain=scalars(-2, 2, -2, 2, -2, 2).map(lambda xs: (np.stack(xs),)),
          reading="the function the formula is tried on, checked on every engine too"),
]
