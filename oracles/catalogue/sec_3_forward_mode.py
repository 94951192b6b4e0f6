"""Notes section "Computational Graphs + Forward Mode Auto. Diff.": the worked example, its
trace table (every primal line, every tangent rule, every printed value) and its two seeds;
and the reverse-mode counterpart of the same example (the adjoint of every line).

Reading of the table: the notes print the rows v_{-1} .. v_6 and f, and below them two runs of
values. The first run (8 values) is the primal column v_{-1} .. v_6; the second (9 values) is
the tangent column v_{-1} .. v_6 and then the last row, df/dx1 = v_6-dot. Two lines holding a
lone space inside the second run are layout, not values. The seed is (1, 0): the printed
tangents of v_{-1} and v_0 are 1.000 and 0.000.
"""
import numpy as np

from oracles.claims import Claim, Printed, Statement, scalars

SECTION = "Computational Graphs + Forward Mode Auto. Diff."
X = (1.5, 0.5)           # where the notes evaluate the example

F_PRINTED = (r"f(x_1, x_2) = [\sin\left(\frac{x_1}{x_2}\right) + \frac{x_1}{x_2} - e^{x_2}]"
             r" \times \left[\frac{x_1}{x_2} - e^{x_2}\right]")


def f_as_printed(xp, x1, x2):
    """The example function exactly as the formula is printed (no shared subexpressions)."""
    return (xp.sin(x1 / x2) + x1 / x2 - xp.exp(x2)) * (x1 / x2 - xp.exp(x2))


# the primal column, line by line: (k, as printed, v_k from the earlier v's)
LINES = [
    (1, r"v_1 = v_{-1}/v_0", lambda xp, v: v[-1] / v[0]),
    (2, r"v_2 = \sin(v_1)", lambda xp, v: xp.sin(v[1])),
    (3, r"v_3 = \exp(v_0)", lambda xp, v: xp.exp(v[0])),
    (4, r"v_4 = v_1 - v_3", lambda xp, v: v[1] - v[3]),
    (5, r"v_5 = v_2 + v_4", lambda xp, v: v[2] + v[4]),
    (6, r"v_6 = v_5 \times v_4", lambda xp, v: v[5] * v[4]),
]

# the tangent column as printed: (k, as printed, v_k-dot from the v's and earlier v-dots)
TANGENT_RULES = [
    (1, r"\dot{v}_1 = (v_0\dot{v}_{-1} - v_{-1}\dot{v}_0)/v_0^2",
     lambda xp, v, d: (v[0] * d[-1] - v[-1] * d[0]) / v[0] ** 2),
    (2, r"\dot{v}_2 = \cos(v_1) \times \dot{v}_1", lambda xp, v, d: xp.cos(v[1]) * d[1]),
    (3, r"\dot{v}_3 = v_3 \times \dot{v}_0", lambda xp, v, d: v[3] * d[0]),
    (4, r"\dot{v}_4 = \dot{v}_1 - \dot{v}_3", lambda xp, v, d: d[1] - d[3]),
    (5, r"\dot{v}_5 = \dot{v}_2 + \dot{v}_4", lambda xp, v, d: d[2] + d[4]),
    (6, r"\dot{v}_6 = \dot{v}_5 v_4 - \dot{v}_4 v_5", lambda xp, v, d: d[5] * v[4] - d[4] * v[5]),
]

PRINTED_PRIMALS = ["1.500", "0.500", "3.000", "0.141", "1.649", "1.351", "1.492", "2.017"]
PRINTED_TANGENTS = ["1.000", "0.000", "2.000", "-1.980", "0.000", "2.000", "0.020", "3.012"]
PRINTED_PARTIAL = "3.012"    # the last row: df/dx1 = v_6-dot


def run(xp, x1, x2, upto=6, override=None):
    """The table's program: v_{-1}, v_0 = x1, x2, then its lines up to v_upto. With
    `override=(k, t)`, line k yields t instead (for the adjoint of v_k)."""
    v = {-1: x1, 0: x2}
    for k, _, line in LINES[:upto]:
        v[k] = override[1] if override and override[0] == k else line(xp, v)
    return v


def prefix(k):
    return lambda xp, x1, x2: run(xp, x1, x2, upto=max(k, 0))[k]


def exact_tangents(x1, x2, t1, t2):
    """v_k-dot of every line by the complex step (exact to roundoff: the program is
    real-analytic), so that each printed rule is judged on exact inputs, not on the rules
    above it."""
    h = 1e-30
    v = run(np, np.asarray(x1, complex) + 1j * h * t1, np.asarray(x2, complex) + 1j * h * t2)
    return {k: np.imag(val) / h for k, val in v.items()}


def rule_claim(k, printed, rule):
    def notes_jvp(xp, tangents, x1, x2):
        v = run(xp, x1, x2)
        d = exact_tangents(x1, x2, tangents[0], tangents[1])
        d = {j: (dj if j < k else None) for j, dj in d.items()}
        return rule(xp, v, d)

    return Claim(
        id=f"fwd-table-tangent-rule-v{k}", section=SECTION, printed=printed, f=prefix(k),
        domain=scalars(-3, 3, 0.2, 3, include=[X]), notes_jvp=notes_jvp,
        reading="the rule is fed exact upstream tangents, so that it is judged alone")


def tangent_value(k):
    def compute(ctx):
        _, t = ctx.reference.jvp(prefix(k), [np.array(X[0]), np.array(X[1])],
                                 [np.array(1.0), np.array(0.0)])
        return float(t)
    return compute


def primal_value(k):
    return lambda ctx: float(ctx.reference.value(prefix(k), [np.array(X[0]), np.array(X[1])])
                             if hasattr(ctx.reference, "value")
                             else prefix(k)(np, X[0], X[1]))


def chain_of_rules(xp, tangents, x1, x2):
    """The whole tangent column, each rule fed the v-dots the rules above it computed, as
    one runs the table by hand."""
    v = run(xp, x1, x2)
    d = {-1: tangents[0], 0: tangents[1]}
    for k, _, rule in TANGENT_RULES:
        d[k] = rule(xp, v, d)
    return d[6]


def _program_equals_formula(ctx):
    rng = np.random.default_rng(0)
    pts = [X] + [(rng.uniform(-3, 3), rng.uniform(0.2, 3)) for _ in range(20)]
    worst = max(abs(float(run(np, a, b)[6]) - float(f_as_printed(np, a, b))) /
                max(1.0, abs(float(f_as_printed(np, a, b)))) for a, b in pts)
    return {"max relative difference over 21 points": worst}


CLAIMS = [
    Claim(id="fwd-example-f", section=SECTION, printed=F_PRINTED, f=f_as_printed,
          domain=scalars(-3, 3, 0.2, 3, include=[X]),
          values=(Printed("f(1.5, 0.5) = v_6", PRINTED_PRIMALS[-1],
                          lambda ctx: float(f_as_printed(np, *X))),),
          statements=(Statement(
              "the table computes f", "f(x_1, x_2) = v_6",
              _program_equals_formula, lambda m: m["max relative difference over 21 points"]
              < 1e-13, reading="the table's lines, run in order, give the printed f"),),
          reading="x2 is drawn from [0.2, 3]: the formula divides by x2"),
    Claim(id="fwd-table-partial-x1", section=SECTION,
          printed=r"\frac{\partial f}{\partial x_1} = \dot{v}_6 = 3.012",
          values=(Printed("df/dx1 at (1.5, 0.5)", PRINTED_PARTIAL, tangent_value(6)),)),
    Claim(id="fwd-table-tangent-column", section=SECTION,
          printed=r"\dot{v}_{-1} = 1.000, \dot{v}_0 = 0.000 (seed for df/dx1)",
          f=lambda xp, x1, x2: run(xp, x1, x2)[6], domain=scalars(-3, 3, 0.2, 3, include=[X]),
          notes_jvp=chain_of_rules,
          reading="the tangent column run as a whole, rule after rule, for any seed: "
                  "*which set based on which partial is computed*"),
]
for k, printed, _ in LINES:
    CLAIMS.append(Claim(
        id=f"fwd-table-primal-v{k}", section=SECTION, printed=printed, f=prefix(k),
        domain=scalars(-3, 3, 0.2, 3, include=[X]),
        values=(Printed(f"v_{k} at (1.5, 0.5)", PRINTED_PRIMALS[k + 1], primal_value(k)),)))
for k, printed, rule in TANGENT_RULES:
    c = rule_claim(k, printed, rule)
    c.values = (Printed(f"v_{k}-dot at (1.5, 0.5), seed (1, 0)", PRINTED_TANGENTS[k + 1],
                        tangent_value(k)),)
    CLAIMS.append(c)
CLAIMS += [
    Claim(id="fwd-table-inputs", section=SECTION, printed=r"v_{-1} = x_1, v_0 = x_2",
          values=(Printed("v_{-1}", PRINTED_PRIMALS[0], lambda ctx: X[0]),
                  Printed("v_0", PRINTED_PRIMALS[1], lambda ctx: X[1]),
                  Printed("v_{-1}-dot (seed)", PRINTED_TANGENTS[0], lambda ctx: 1.0),
                  Printed("v_0-dot (seed)", PRINTED_TANGENTS[1], lambda ctx: 0.0))),
]

# The reverse-mode counterpart: the adjoint of each v_k is the derivative of f with respect
# to v_k, the lines after k recomputed from it and everything before k held.
REV_SECTION = "Reverse Mode Auto. Diff."
for k, printed, _ in LINES:
    def adj(xp, t, x1, x2, k=k):
        return run(xp, x1, x2, override=(k, t))[6]
    v_k = float(run(np, *X)[k])
    CLAIMS.append(Claim(
        id=f"rev-example-adjoint-v{k}", section=REV_SECTION,
        printed=rf"\bar{{v}}_{k} = \partial f / \partial v_{k}  (the adjoint of {printed})",
        f=adj, domain=scalars(v_k - 0.5, v_k + 0.5, -3, 3, 0.2, 3,
                              include=[(v_k,) + X]),
        reading="the notes' reverse-mode slides are figures, lost; the adjoint trace of the "
                "same example is checked instead"))
