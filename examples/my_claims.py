"""An example claim file: `pytest tests/notes --ad-formulas examples/my_claims.py`."""
from oracles.claims import Claim, Kink, scalars

CLAIMS = [
    Claim(
        id="my-softplus-derivative",
        section="My notes: activations",
        printed=r"\frac{d}{dx} \log(1 + e^x) = \frac{1}{1 + e^{-x}}",
        f=lambda xp, x: xp.log(1.0 + xp.exp(x)),          # written once, against xp
        domain=scalars(-5, 5),                              # a Hypothesis strategy
        notes_jvp=lambda xp, t, x: t[0] / (1.0 + xp.exp(-x)),  # the notes' formula, literally
    ),
    Claim(
        id="my-abs-derivative",
        section="My notes: activations",
        printed=r"\frac{d}{dx} |x| = \mathrm{sign}(x)",
        f=lambda xp, x: xp.abs(x),
        domain=scalars(-2, 2, include=[(0.0,)]),            # try the kink itself too
        kinks=(Kink(lambda x: x == 0, -1.0, 1.0, text="x = 0"),),
        notes_jvp=lambda xp, t, x: xp.sign(x) * t[0],
    ),
]
