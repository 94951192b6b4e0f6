"""Notes section "Subgradients and the RELU": the derivative the notes choose, and what they
say of subgradients."""
import numpy as np

from oracles.claims import Claim, Kink, Statement, scalars

SECTION = "Subgradients and the RELU"
PRINTED = r"f'(z) = \begin{cases} 0, & z < 0 \\ 1, & z \geq 0 \end{cases}"


def relu_notes(xp, t, z):
    return xp.where(z >= 0, 1.0, 0.0) * t[0]


def _lines_under(z0):
    """The slopes s for which the line through (z0, relu(z0)) stays under relu on [-5, 5]."""
    z = np.linspace(-5, 5, 2001)
    r = np.maximum(z, 0)
    slopes = np.round(np.linspace(-1, 2, 301), 10)
    under = [s for s in slopes if np.all(max(z0, 0) + s * (z - z0) <= r + 1e-12)]
    return {"z0": z0, "slopes under": [min(under), max(under)] if under else None,
            "count": len(under)}


CLAIMS = [
    Claim(id="relu-derivative", section=SECTION, printed=PRINTED,
          f=lambda xp, z: xp.relu(z), domain=scalars(-3, 3, include=[(0.0,)]),
          kinks=(Kink(lambda z: z == 0, 0.0, 1.0, text="z = 0"),),
          notes_jvp=relu_notes,
          reading="at z = 0 the notes choose 1, inside the subdifferential [0, 1]: each "
                  "engine's own choice there is recorded as a convention"),
    Claim(id="relu-subgradient-lines", section=SECTION,
          printed="The subderivative of a RELU is the slope of any line that lies entirely "
                  "under it",
          statements=(Statement(
              "at z = 0 the slopes of the lines under relu are [0, 1]",
              "the slope of any line that lies entirely under it", lambda ctx: _lines_under(0.0),
              lambda m: m["slopes under"] == [0.0, 1.0],
              reading="lines through (0, relu(0)), slopes on a grid of step 0.01"),)),
    Claim(id="relu-subgradient-is-gradient-where-differentiable", section=SECTION,
          printed="At the differentiable points on the curve, this is the same as the gradient",
          statements=(Statement(
              "away from 0 the only slope under relu is its derivative",
              "the same as the gradient",
              lambda ctx: {"z0=-1": _lines_under(-1.0)["slopes under"],
                           "z0=1.5": _lines_under(1.5)["slopes under"]},
              lambda m: m["z0=-1"] == [0.0, 0.0] and m["z0=1.5"] == [1.0, 1.0]),)),
]
