"""The checks, one module per kind, each with the same small interface:

    applies(claim, point) -> bool        (per-claim checks: applies(claim))
    run(run, point) -> iterable of Record (per-claim checks: run(run))

`run` is the `oracles.harness.ClaimRun` (the claim, its formula, helpers to call engines and
make records); `point` the `oracles.harness.Point` (a drawn input, its tangents and
cotangent, the reference there). A new kind of check is one new module and one line here.
"""
from . import derivatives, float32, hvp, jacobian, kinks, notes_formulas, printed, taylor

PER_POINT = (derivatives, kinks, notes_formulas, jacobian, taylor, hvp, float32)
PER_CLAIM = (printed,)
