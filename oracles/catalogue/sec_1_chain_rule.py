"""Notes section "Chain Rule Review": the scalar chain rule, the chain rule through several
inner functions, and the gradient as the vector of partials. The notes state them for any
differentiable f, g, h; each claim instantiates them with functions of known derivative
(oracles.library), drawn so that every composition stays in its domain."""
from oracles.claims import Claim, scalars
from oracles.library import BY_NAME as L

SECTION = "Chain Rule Review"

SCALAR = r"y'(x) = f'(g(h(x))) g'(h(x)) h'(x)"
# (f, g, h, domain of x) with h(x) in g's domain and g(h(x)) in f's
TRIPLES = [("sin", "exp", "tanh", (-3.0, 3.0)),
           ("sqrt", "exp", "sin", (-3.0, 3.0)),
           ("log", "sigmoid", "cube", (-1.5, 1.5)),
           ("tanh", "square-sin", "reciprocal", (0.3, 3.0)),
           ("cube", "cos", "log", (0.2, 5.0))]


def _scalar_claim(fn, gn, hn, lo, hi):
    F, G, H = L[fn], L[gn], L[hn]
    return Claim(
        id=f"chain-scalar-{fn}-{gn}-{hn}", section=SECTION, printed=SCALAR,
        f=lambda xp, x: F.f(xp, G.f(xp, H.f(xp, x))), domain=scalars(lo, hi),
        notes_jvp=lambda xp, t, x: F.df(xp, G.f(xp, H.f(xp, x))) * G.df(xp, H.f(xp, x))
        * H.df(xp, x) * t[0],
        reading=f"f = {fn}, g = {gn}, h = {hn}")


MULTI = (r"y'(x) = \frac{\partial f}{\partial g_1} \frac{dg_1}{dx} + \frac{\partial f}{\partial g_2}"
         r" \frac{dg_2}{dx} + \frac{\partial f}{\partial g_3} \frac{dg_3}{dx}")


def outer(xp, a, b, c):
    return a * b + xp.sin(c) * a


def outer_partials(xp, a, b, c):   # by hand: d/da, d/db, d/dc of a b + sin(c) a
    return b + xp.sin(c), a, a * xp.cos(c)


G1, G2, G3 = L["sin"], L["exp"], L["cube"]


def multi_notes(xp, t, x):
    a, b, c = G1.f(xp, x), G2.f(xp, x), G3.f(xp, x)
    fa, fb, fc = outer_partials(xp, a, b, c)
    return (fa * G1.df(xp, x) + fb * G2.df(xp, x) + fc * G3.df(xp, x)) * t[0]


GRAD = r"\nabla f = (\partial_{x_1} f, \partial_{x_2} f, \partial_{x_3} f)"


def three(xp, x1, x2, x3):
    return x1 * x2 * xp.sin(x3) + xp.exp(x1 - x3)


def three_partials(xp, y_bar, x1, x2, x3):   # the gradient as its three partials, by hand
    e = xp.exp(x1 - x3)
    return (y_bar * (x2 * xp.sin(x3) + e), y_bar * (x1 * xp.sin(x3)),
            y_bar * (x1 * x2 * xp.cos(x3) - e))


CLAIMS = [_scalar_claim(*t[:3], *t[3]) for t in TRIPLES] + [
    Claim(id="chain-scalar-output-three-inner", section=SECTION, printed=MULTI,
          f=lambda xp, x: outer(xp, G1.f(xp, x), G2.f(xp, x), G3.f(xp, x)),
          domain=scalars(-2, 2), notes_jvp=multi_notes,
          reading="f(g1, g2, g3) = g1 g2 + sin(g3) g1 with g1 = sin, g2 = exp, g3 = x^3"),
    Claim(id="gradient-is-vector-of-partials", section=SECTION, printed=GRAD, f=three,
          domain=scalars(-2, 2, -2, 2, -2, 2), notes_vjp=three_partials,
          reading="f(x1, x2, x3) = x1 x2 sin(x3) + exp(x1 - x3)"),
]
