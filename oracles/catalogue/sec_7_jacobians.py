"""Notes sections "Multivariate input & output" and "Chain rule - multivariate input & output":
the Jacobian's shape, the chain rule for Jacobians, the affine example and the three Jacobians
of D = f(w y + b)."""
import numpy as np

from oracles.claims import Claim, Statement, arrays, seeded

SECTION = "Multivariate input & output"
SECTION_CR = "Chain rule - multivariate input & output"


def g_map(xp, x):            # g: R^3 -> R^2
    return xp.stack([x[0] * x[1] + xp.sin(x[2]), xp.exp(x[0]) - x[2] ** 2])


def J_g(x):                  # by hand
    return np.array([[x[1], x[0], np.cos(x[2])], [np.exp(x[0]), 0.0, -2 * x[2]]])


def f_map(xp, u):            # f: R^2 -> R^4
    return xp.stack([u[0] * u[1], xp.sin(u[0]), u[1] ** 2, u[0] + 3.0 * u[1]])


def J_f(u):                  # by hand
    return np.array([[u[1], u[0]], [np.cos(u[0]), 0.0], [0.0, 2 * u[1]], [1.0, 3.0]])


def _jacobian_shapes(ctx):
    """Shapes of the Jacobians as the engines build them (output axes, then input axes)."""
    import ourad
    x = np.array([0.3, -0.4, 0.9])
    out = {"J_g (g: R^3 -> R^2)": list(ourad.jacrev(lambda v: g_map(ourad.xp, v))(x).shape),
           "J_f (f: R^2 -> R^4)": list(ourad.jacrev(lambda v: f_map(ourad.xp, v))(
               g_map(np, x)).shape)}
    try:
        import jax
        out["jax J_g"] = list(jax.jacrev(lambda v: g_map(jax.numpy, v))(x).shape)
    except ImportError:
        pass
    out["J_f J_g"] = list((J_f(g_map(np, x)) @ J_g(x)).shape)
    return out


def _affine_shapes(ctx):
    """The shape W must have for z = W y + b to lie in R^m, y in R^n (m = 4, n = 3), against
    the shape printed under W (R^m)."""
    m, n = 4, 3
    y, b = np.ones(n), np.ones(m)
    printed = (m,)
    try:
        z = np.ones(printed) @ y + b
        works = z.shape == (m,)
    except ValueError:
        works = False
    return {"printed shape of W": list(printed), "W y + b well-formed with it": works,
            "shape W needs": [m, n]}


def dense_f(xp, z):          # f: R^m -> R for D = f(w y + b)
    return xp.sum(xp.tanh(z))


def dense_grad_f(xp, z):     # J-bar_f(z), the row gradient of f, by hand
    return 1.0 - xp.tanh(z) ** 2


def dense_D(xp, y, w, b):
    return dense_f(xp, xp.matmul(w, y) + b)


def dense_arrays(rng):
    m, n = (int(v) for v in rng.integers(1, 5, size=2))
    return [rng.standard_normal(n), rng.standard_normal((m, n)), rng.standard_normal(m)]


CLAIMS = [
    Claim(id="jacobian-shape", section=SECTION,
          printed=r"f: \mathbb{R}^n \rightarrow \mathbb{R}^m; J_f \in \mathbb{R}^{m \times n}",
          f=g_map, domain=arrays((3,)),
          statements=(Statement("J_f has m rows and n columns", r"J_f \in R^{m \times n}",
                                _jacobian_shapes,
                                lambda m: m["J_g (g: R^3 -> R^2)"] == [2, 3]
                                and m["J_f (f: R^2 -> R^4)"] == [4, 2]),)),
    Claim(id="jacobian-chain-rule", section=SECTION_CR,
          printed=r"J_y(x) = \underbrace{\underbrace{J_f(g(x))}_{\mathbb{R}^{m \times n}} "
                  r"\underbrace{J_g(x)}_{\mathbb{R}^{n \times p}}}_{\mathbb{R}^{m \times p}}",
          f=lambda xp, x: f_map(xp, g_map(xp, x)), domain=arrays((3,)),
          notes_jvp=lambda xp, t, x: J_f(g_map(np, x)) @ J_g(x) @ t[0],
          statements=(Statement("the shapes under the braces", "R^{m x n} R^{n x p} -> "
                                "R^{m x p}; f o g: R^p -> R^m", _jacobian_shapes,
                                lambda m: m["J_f J_g"] == [4, 3]),),
          reading="g: R^3 -> R^2 and f: R^2 -> R^4 (p = 3, n = 2, m = 4), Jacobians by hand"),
    Claim(id="affine-jacobian-is-W", section=SECTION_CR, printed=r"J_z^{(y)} = W",
          f=lambda xp, y, W, b: xp.matmul(W, y) + b,
          domain=seeded(lambda rng: [rng.standard_normal(3), rng.standard_normal((4, 3)),
                                     rng.standard_normal(4)]),
          notes_vjp=lambda xp, u, y, W, b: (W.T @ u, None, None)),
    Claim(id="affine-printed-shapes", section=SECTION_CR,
          printed=r"z(y) = \underbrace{W}_{\mathbb{R}^m} \underbrace{y}_{\mathbb{R}^n} + "
                  r"\underbrace{b}_{\mathbb{R}^m}",
          statements=(Statement("the shape printed under W", r"W \in R^m", _affine_shapes,
                                lambda m: m["W y + b well-formed with it"],
                                reading="literally: W in R^m, with y in R^n and z, b in R^m"),)),
    Claim(id="dense-jacobian-wrt-y", section=SECTION_CR,
          printed=r"\bar{J}_D(y) = \bar{J}_f(z)w", f=dense_D, domain=seeded(dense_arrays),
          notes_vjp=lambda xp, u, y, w, b: (u * (dense_grad_f(xp, w @ y + b) @ w), None, None),
          reading="f(z) = sum(tanh(z)); J-bar is a gradient written as a row"),
    Claim(id="dense-jacobian-wrt-b", section=SECTION_CR,
          printed=r"\bar{J}_D(b) = \bar{J}_f(z)", f=dense_D, domain=seeded(dense_arrays),
          notes_vjp=lambda xp, u, y, w, b: (None, None, u * dense_grad_f(xp, w @ y + b))),
    Claim(id="dense-jacobian-wrt-w", section=SECTION_CR,
          printed=r"\bar{J}_D(w) = \bar{J}_f^t(z) y^t", f=dense_D, domain=seeded(dense_arrays),
          notes_vjp=lambda xp, u, y, w, b: (
              None, u * (dense_grad_f(xp, w @ y + b)[:, None] @ y[None, :]), None),
          reading="J-bar_f^t(z) is a column (m x 1), y^t a row (1 x n): their product is m x n"),
]

CLAIMS.append(Claim(
    id="affine-jacobian-batched", section=SECTION_CR, printed=r"J_z^{(y)} = W",
    f=lambda xp, Y, W, b: xp.matmul(Y, xp.matrix_transpose(W)) + b,
    domain=seeded(lambda rng: [rng.standard_normal((5, 3)), rng.standard_normal((4, 3)),
                               rng.standard_normal(4)]),
    notes_vjp=lambda xp, U, Y, W, b: (U @ W, None, None),
    reading="z = W y + b for a batch of y's (the rows of Y): b is added to every row, so "
            "its cotangent sums over the batch; each row's Jacobian is W"))
