"""Elementary functions with known derivatives, each written once against `xp` (so that every
engine, the referee included, can evaluate both the function and its closed-form derivative).
The chain-rule claims of the notes draw f, g, h from here; the oracle tests use it as ground
truth."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Elementary:
    name: str
    f: Callable          # f(xp, x)
    df: Callable         # f'(xp, x), the closed form
    lo: float            # the domain drawn from: [lo, hi]
    hi: float


LIBRARY = [
    Elementary("sin", lambda xp, x: xp.sin(x), lambda xp, x: xp.cos(x), -3.0, 3.0),
    Elementary("cos", lambda xp, x: xp.cos(x), lambda xp, x: -xp.sin(x), -3.0, 3.0),
    Elementary("exp", lambda xp, x: xp.exp(x), lambda xp, x: xp.exp(x), -2.0, 2.0),
    Elementary("log", lambda xp, x: xp.log(x), lambda xp, x: 1.0 / x, 0.2, 5.0),
    Elementary("tanh", lambda xp, x: xp.tanh(x), lambda xp, x: 1.0 - xp.tanh(x) ** 2,
               -2.0, 2.0),
    Elementary("sqrt", lambda xp, x: xp.sqrt(x), lambda xp, x: 0.5 / xp.sqrt(x), 0.2, 5.0),
    Elementary("cube", lambda xp, x: x * x * x, lambda xp, x: 3.0 * x * x, -2.0, 2.0),
    Elementary("reciprocal", lambda xp, x: 1.0 / x, lambda xp, x: -1.0 / (x * x), 0.3, 3.0),
    Elementary("sigmoid", lambda xp, x: 1.0 / (1.0 + xp.exp(-x)),
               lambda xp, x: xp.exp(-x) / (1.0 + xp.exp(-x)) ** 2, -3.0, 3.0),
    Elementary("square-sin", lambda xp, x: xp.sin(x) ** 2,
               lambda xp, x: 2.0 * xp.sin(x) * xp.cos(x), -3.0, 3.0),
]
BY_NAME = {e.name: e for e in LIBRARY}
