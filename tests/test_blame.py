"""Localisation names the primitive each planted bug plants, and the Primitives section fails
on that primitive's claim alone; the right subject gets no blame."""
from collections import Counter

import numpy as np
import pytest

import oracles
from oracles.claims import load_catalogue
from oracles.harness import Harness, draw_inputs
from oracles.namespace import DEFINED
from oracles.primitives import OPS, section
from oracles.verdict import PRIMITIVES, blame_line
from oracles.wengert import record
from ourad.rules import RULES
from test_planted_bugs import PLANTED, _swap, planted

# ops whose evaluation broadcasts: where "broadcasting not undone" may surface alone (ourad's
# own softmax subtracts a kept-dims logsumexp), or only in the composition
BROADCASTING = {"add", "subtract", "multiply", "divide", "pow", "maximum", "minimum", "where",
                "matmul", "softmax", "logsumexp", "composition"}
BLAMED = {
    "sign flip in sin's rules (both modes)": {"sin"},
    "dropped chain-rule term: tanh's rules forget the incoming derivative": {"tanh"},
    "transposed matrix in matmul's VJP": {"matmul"},
    "broadcasting not undone": BROADCASTING,
    "rule right in forward mode, wrong in reverse (cos)": {"cos"},
    "cotangent's value ignored (multiply)": {"multiply"},
    "relu's derivative wrong on the negative side": {"relu"},
    "relative error of 1e-6 in exp's derivative": {"exp"},
    "derivative computed in float32 (log)": {"log"},
    "maximum gives both inputs the whole derivative at a tie": {"maximum"},
    "max gives every tied entry the whole derivative": {"max"},
}
# bugs that show at a kink alone (a tie), where no derivative check runs and so nothing is
# localised: the Primitives section names the op, its kink checks fail and nothing else does
AT_KINKS = {"maximum gives both inputs the whole derivative at a tie",
            "max gives every tied entry the whole derivative"}
PLANTED_OP = {bug: next(iter(ops)) for bug, ops in BLAMED.items() if len(ops) == 1}
# ourad's own softmax and logsumexp are built from its primitives: seen from outside, a bug in
# one of those is a bug of ourad's softmax too, and is blamed so where a claim calls softmax
OURAD_BUILT = {"softmax": {"exp", "subtract", "log", "sum", "add"},
               "logsumexp": {"exp", "subtract", "log", "sum", "add"}}
for _bug, _op in PLANTED_OP.items():
    BLAMED[_bug] = {_op} | {c for c, parts in OURAD_BUILT.items() if _op in parts}
DERIVATIVE = ("jvp", "vjp", "jacobian")
# The second derivative of an op evaluates the rules its own rule calls (cos's VJP computes
# sin, pow's computes log): a planted first-order bug in one op rightly shows in another op's
# hvp. Blame and the scorecard's op records are judged on first-order checks.
SECOND_ORDER = ("hvp", "hvp-symmetry")


@pytest.fixture(scope="module")
def parts():
    # JAX left out: it compiles every new function and shape, and these runs make hundreds
    names = [n for n in ("torch", "fd", "referee") if oracles.available()[n] is True]
    return {n: oracles.engine(n) for n in names}, [c for c in load_catalogue() if c.f]


def _run(oracle_engines, claims, examples=2):
    h = Harness([oracles.engine("ourad-forward"), oracles.engine("ourad-reverse")],
                oracle_engines)
    return [r for c in claims for r in h.run_claim(c, draw_inputs(c, examples))]


def test_every_planted_bug_has_an_expected_blame():
    assert set(BLAMED) == set(PLANTED)


@pytest.mark.parametrize("bug", list(BLAMED))
def test_planted_bug_is_blamed_on_the_op_it_plants(bug, parts):
    with planted(bug):
        recs = _run(*parts)
    defects = [r for r in recs if r.category == "subject-defect"
               and r.check not in SECOND_ORDER]
    assert defects, "the bug was not caught"
    if bug in AT_KINKS:
        assert {r.check for r in defects} <= {"kink-jvp", "kink-vjp"}, defects
        assert {r.claim for r in defects} == {f"op-{o}" for o in BLAMED[bug]}
        return
    localised = [r for r in defects if r.check in DERIVATIVE]
    assert all(r.blame is not None for r in localised), \
        [(r.claim, r.engine, r.check, r.detail[-160:]) for r in localised if r.blame is None]
    blames = Counter(r.blame["op"] for r in defects if r.blame)
    print(f"\n  {bug}: {blames.most_common()}")
    print("   ", next(blame_line(r.blame) for r in defects if r.blame))
    assert set(blames) <= BLAMED[bug], blames
    assert blames.most_common(1)[0][0] in BLAMED[bug]
    bad_ops = {r.claim for r in defects if r.section == PRIMITIVES}
    assert bad_ops and bad_ops <= {f"op-{o}" for o in BLAMED[bug]}, bad_ops
    if bug in PLANTED_OP:
        assert blames.most_common(1)[0][0] == PLANTED_OP[bug]
        assert f"op-{PLANTED_OP[bug]}" in bad_ops


def test_a_reverse_only_error_is_blamed_in_reverse_mode_only(parts):
    with planted("rule right in forward mode, wrong in reverse (cos)"):
        recs = _run(parts[0], [c for c in parts[1] if c.id in ("op-cos", "chain-scalar-sin-exp-tanh",
                                                              "chain-scalar-cube-cos-log")])
    defects = [r for r in recs if r.category == "subject-defect"   # the checks blame serves
               and r.check not in SECOND_ORDER + ("taylor",)]
    # one engine's JVP against the other's VJP is blamed on the engine whose rule is wrong
    assert defects and {r.blame.get("engine", r.engine) for r in defects} == {"ourad-reverse"}
    assert {r.blame["op"] for r in defects} == {"cos"}
    assert all(r.blame["mode"] == "vjp" for r in defects if r.check == "vjp")
    assert not [r for r in recs if r.engine == "ourad-forward" and r.claim == "op-cos"
                and r.category != "agree" and not r.check.startswith("transpose")
                and r.check not in SECOND_ORDER]


def test_the_blame_line_names_op_argument_mode_and_both_values(parts):
    right = RULES["divide"].vjp
    wrong_b = lambda xp, g, y, a, b: xp.multiply(g, xp.divide(y, b))  # noqa: E731  sign lost
    claim = next(c for c in parts[1] if c.id == "fwd-example-f")
    restore = _swap("divide", vjp=(right[0], wrong_b))
    try:
        recs = Harness([oracles.engine("ourad-reverse")], parts[0]).run_claim(
            claim, [(np.array(1.5), np.array(0.5))])
    finally:
        restore()
    rec = next(r for r in recs if r.check == "vjp")
    assert rec.category == "subject-defect"
    assert blame_line(rec.blame) == \
        "divide, d/d(argument 1), reverse mode, at (1.5, 0.5): got 6, want -6"
    assert rec.blame["op"] == "divide" and rec.blame["argument"] == 1


def test_the_right_subject_gets_no_blame_and_every_op_record_agrees(parts):
    recs = _run(parts[0], [c for c in parts[1] if c.section == PRIMITIVES], examples=None)
    assert not [r for r in recs if r.category == "subject-defect" or r.blame]
    assert {r.claim for r in recs} == {c.id for c in parts[1] if c.section == PRIMITIVES}


def test_the_section_has_one_claim_per_recorded_op_and_every_op_a_table_entry():
    notes = [c for c in load_catalogue() if c.section != PRIMITIVES]
    used = set()
    for c in notes:
        if c.f is not None:
            used |= record(c.f, [np.asarray(a, float) for a in draw_inputs(c, 1)[0]]).ops()
    assert {c.id for c in section(notes)} == {f"op-{o}" for o in used}
    assert used <= set(OPS), used - set(OPS)


def test_the_recording_lists_operators_and_the_insides_of_definitions():
    p = record(lambda xp, a, b: xp.sin(a / b) * b + xp.relu(2.0 - a),
               [np.array(1.5), np.array(0.5)])
    assert [s.op for s in p.steps()] == ["divide", "sin", "multiply", "subtract", "relu", "add"]
    assert [s.op for s in p.steps(lambda n: n not in DEFINED)][4] == "maximum"
    st = p.steps()[3]
    assert st.slots()[0][0] == 1 and float(st.inputs[0]) == 2.0   # 2.0 - a: a is argument 1
