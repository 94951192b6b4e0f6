"""A kink's tangent: one input (the others zero) or a direction over all inputs, and the
checks along it; several kinks at one point together pin down the subgradients allowed."""
import numpy as np
import pytest
from hypothesis import strategies as st

import oracles
from oracles.claims import Claim, Kink
from oracles.harness import Harness

pytest.importorskip("torch")


def test_a_kinks_tangent_is_one_input_or_one_weight_per_input():
    x = [np.zeros(3), np.zeros((2, 2))]
    t = Kink(lambda *a: True, 0.0, 1.0, arg=1).tangent(x)
    assert [a.tolist() for a in t] == [[0.0] * 3, [[1.0, 1.0], [1.0, 1.0]]]
    t = Kink(lambda *a: True, 0.0, 1.0, arg=(2.0, ((0.0, 1.0), (0.0, 0.0)))).tangent(x)
    assert [a.tolist() for a in t] == [[2.0] * 3, [[0.0, 1.0], [0.0, 0.0]]]
    assert [a.tolist() for a in Kink(lambda *a: True, 0.0, 1.0, arg=-1).tangent(x)][1] == \
        [[1.0, 1.0], [1.0, 1.0]]                                    # the last input
    for arg in ((1.0,), 2, -3, (0.0, 0.0), (float("nan"), 1.0)):
        # one weight for two inputs, no such input, nothing to check along, not a number
        with pytest.raises(ValueError):
            Kink(lambda *a: True, 0.0, 1.0, arg=arg).tangent(x)


def _records(claim, subject):
    h = Harness([subject], {"torch": oracles.engine("torch")}, seed=0)
    return h.run_claim(claim, [(np.array(0.0), np.array(0.0))])


def _tie_claim(*kinks):
    return Claim(id="tie", section="test", printed="maximum(a, b)",
                 f=lambda xp, a, b: xp.maximum(a, b), domain=st.just(()), kinks=kinks)


EACH = (Kink(lambda a, b: a == b, 0.0, 1.0, arg=0, text="a = b"),
        Kink(lambda a, b: a == b, 0.0, 1.0, arg=1, text="a = b"))
BOTH = Kink(lambda a, b: a == b, 1.0, 1.0, arg=(1.0, 1.0), text="a = b, along (1, 1)")


class GivesBothTheWholeDerivative:
    """maximum's derivative 1 for each input at a tie (by PyTorch, where a >= b and b >= a)."""
    name = "gives-both"
    xp = oracles.engine("torch").xp

    def jvp(self, f, primals, tangents):
        a, b = primals
        return np.maximum(a, b), np.asarray((a >= b) * tangents[0] + (b >= a) * tangents[1])

    def vjp(self, f, primals, cotangent):
        a, b = primals
        return np.maximum(a, b), (cotangent * (a >= b), cotangent * (b >= a))


def test_each_inputs_interval_alone_lets_a_wrong_tie_pass_the_sum_does_not():
    wrong = GivesBothTheWholeDerivative()
    alone = _records(_tie_claim(*EACH), wrong)
    assert {r.category for r in alone if r.check.startswith("kink")} == {"kink-convention"}
    both = _records(_tie_claim(*EACH, BOTH), wrong)
    bad = [r for r in both if r.engine == "gives-both" and r.check.startswith("kink")]
    assert bad and all(r.category == "subject-defect" and "along (1, 1)" in r.detail
                       and "gives 2" in r.detail for r in bad), [(r.check, r.detail) for r in bad]
    right = [r for r in both if r.engine == "torch"]   # 0.5 each: inside every interval
    assert right and all(r.category == "kink-convention" for r in right)


def test_a_tangent_that_does_not_fit_the_inputs_names_the_claim_and_the_kink():
    wrong = Kink(lambda a, b: a == b, 1.0, 1.0, arg=(1.0, 1.0, 1.0), text="three weights")
    h = Harness([oracles.engine("ourad-reverse")], {}, seed=0)
    recs = h.run_claim(_tie_claim(wrong), [(np.array(0.0), np.array(0.0))])
    assert [r.category for r in recs] == ["claim-error"]
    assert "claim 'tie'" in recs[0].detail and "'three weights'" in recs[0].detail and \
        "does not fit the inputs" in recs[0].detail
