"""How the notes were read: every place where the text had to be read around before it could
be checked (a formula left incomplete, an index not yet bound, a table laid out as two runs of
values, a figure that is lost, a question answered only by implication). The report lists them
in its section "How the notes were read", with the items the coverage map leaves unchecked and
each claim's own reading, so that an author of the notes sees every slip the harness noticed,
computed or not. Entries: (section, the text as printed (fragments of it joined by " ... " or
", "; a text in parentheses names a place that has no text), what is wrong or missing, how it was
read, the claims that rest on the reading)."""
from typing import NamedTuple


class Reading(NamedTuple):
    section: str
    text: str
    problem: str
    reading: str
    claims: tuple = ()


_LOOP = ("mlp-backward-loop-tanh-identity-sqerr", "mlp-backward-loop-sigmoid-sigmoid-xent",
         "mlp-backward-loop-relu-identity-sqerr", "mlp-backward-loop-tanh-sigmoid-xent")
_FWD = "Computational Graphs + Forward Mode Auto. Diff."
_BW = "Gradients: Backward Computation"

READINGS = [
    Reading(_FWD, "$= 1.500$ ... $= 2.017$ ... $= 1.000$ ... $= 3.012$",
            "the table's values are printed below it as two runs (8 values, then 9), not in "
            "its cells; two lines of the second run hold a lone space",
            "the first run is the primal column v_{-1} .. v_6, the second the tangent column "
            "v_{-1} .. v_6 followed by df/dx1; the blank lines are layout, not values",
            ("fwd-table-inputs", "fwd-table-tangent-rule-v6", "fwd-table-partial-x1")),
    Reading(_FWD, r"\dot{v}_{-1}, \dot{v}_0",
            "the seed is not stated", "the printed tangents 1.000 and 0.000 give the seed "
            "(1, 0): the column computes df/dx1", ("fwd-table-inputs",)),
    Reading(_FWD, r"\frac{\partial f}{\partial x}",
            "a caption whose figure is lost; no statement survives", "not checked"),
    Reading("Reverse Mode Auto. Diff.", "(the reverse-mode slides)",
            "the slides are figures and are lost",
            "the adjoint of every line of the forward-mode example is checked instead",
            tuple(f"rev-example-adjoint-v{k}" for k in range(1, 7))),
    Reading(_BW, r"\frac{\partial \text{Div}}{\partial z_i^{(N)}} = f'_k(z_i^{(N)}) "
                 r"\frac{\partial \text{Div}}{\partial y_i^{(N)}}",
            "in the initialisation the index k is not yet bound",
            "f'_k read as f'_N, the last layer's activation", _LOOP),
    Reading(_BW, "For $k = N - 1..0$",
            "at k = 0 the loop computes dDiv/dz^(0) = f'_0(z^(0)) dDiv/dy^(0), but the input "
            "layer has no z or f", "f_0 taken as the identity, so dDiv/dy^(0) is the gradient "
            "with respect to the input", _LOOP),
    Reading(_BW, "(the layer equations)",
            "no equation carries a bias, nor says what a layer computes",
            "z_j^(k) = sum_i w_ij^(k) y_i^(k-1), y^(k) = f_k(z^(k)), y^(0) = x, no bias",
            _LOOP),
    Reading(_BW, "f'_k", "the formulas hold only for elementwise activations, which the notes "
            "do not say", "checked under that condition; a softmax output layer is a probe "
            "that shows the failure outside it", ("mlp-last-layer-dz-softmax-probe",)),
    Reading("Subgradients and the RELU",
            r"f'(z) = \begin{cases} 0, & z < 0 \\ 1, & z \geq 0 \end{cases}",
            "at z = 0 relu has no derivative", "the notes choose 1, inside the "
            "subdifferential [0, 1]; every engine's choice there is a convention",
            ("relu-derivative",)),
    Reading("Subgradients and the RELU", r"$\sim 10^6$ flops",
            "\"~\" is not quantified", "within half a decade of 10^6 (3.2e5 to 3.2e6), flops "
            "counted as ourad documents them",
            ("net-flops-backward-to-input", "net-flops-weight-gradient-products")),
    Reading("Subgradients and the RELU",
            "Would computing the gradient with respect to the network weights be orders of "
            "magnitude slower than computing the gradient with respect to the input?",
            "the question is answered only through two equal \"~10^6\"",
            "the answer read as \"no\": the ratio stays under 10",
            ("net-weight-gradient-not-orders-slower",)),
    Reading("Multivariate input & output", "J_{f, ii} =",
            "incomplete: the right-hand side of the entry formula is missing",
            "nothing to check"),
    Reading("Chain rule - multivariate input & output",
            r"z(y) = \underbrace{W}_{\mathbb{R}^m} \underbrace{y}_{\mathbb{R}^n} + "
            r"\underbrace{b}_{\mathbb{R}^m}",
            "W is printed as a member of R^m", "read literally, and checked: W y + b is not "
            "well-formed with it (W must be m x n)", ("affine-printed-shapes",)),
    Reading("Chain rule - multivariate input & output", r"\bar{J}_D(y) = \bar{J}_f(z)w",
            "the shape of J-bar is not stated", "a gradient written as a row; J-bar_f^t(z) "
            "is then a column and J-bar_f^t(z) y^t an m x n matrix",
            ("dense-jacobian-wrt-y", "dense-jacobian-wrt-w")),
]


def as_dicts() -> list[dict]:
    return [r._asdict() | {"claims": list(r.claims)} for r in READINGS]
