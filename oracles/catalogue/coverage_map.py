"""Every formula, table row and printed value of the notes (as oracles.coverage finds them),
mapped to the claims that check it, or to the reason it cannot be checked. Keys are the
notes' text, whitespace folded; "#2" marks a second occurrence."""


class Reason(str):
    """Why an item of the notes is not checked."""


SCALAR_CHAIN = ["chain-scalar-sin-exp-tanh", "chain-scalar-sqrt-exp-sin",
                "chain-scalar-log-sigmoid-cube", "chain-scalar-tanh-square-sin-reciprocal",
                "chain-scalar-cube-cos-log"]
LOOP = ["mlp-backward-loop-tanh-identity-sqerr", "mlp-backward-loop-sigmoid-sigmoid-xent",
        "mlp-backward-loop-relu-identity-sqerr", "mlp-backward-loop-tanh-sigmoid-xent"]
LAST_DZ = ["mlp-last-layer-dz-identity-sqerr", "mlp-last-layer-dz-sigmoid-xent",
           "mlp-last-layer-dz-tanh-sqerr", "mlp-last-layer-dz-softmax-probe"]

COVERAGE = {
    # Chain Rule Review
    "y(x) = f(g(h(x)))": SCALAR_CHAIN,
    "y'(x) = f'(g(h(x))) g'(h(x)) h'(x)": SCALAR_CHAIN,
    "y(x) = f(g_1(x), g_2(x), g_3(x))": ["chain-scalar-output-three-inner"],
    r"y'(x) = \frac{\partial f}{\partial g_1} \frac{dg_1}{dx} + \frac{\partial f}{\partial g_2}"
    r" \frac{dg_2}{dx} + \frac{\partial f}{\partial g_3} \frac{dg_3}{dx}":
        ["chain-scalar-output-three-inner"],
    "f(x_1, x_2, x_3)": ["gradient-is-vector-of-partials"],
    r"\nabla f = (\partial_{x_1} f, \partial_{x_2} f, \partial_{x_3} f)":
        ["gradient-is-vector-of-partials"],
    # Finite differences
    r"f: \mathbb{R}^n \rightarrow \mathbb{R}": ["fd-forward-difference-formula",
                                                "fd-gradient-matches-ad"],
    r"\frac{\partial f}{\partial x_i} \approx \frac{f(x + h\mathbf{e}_i) - f(x)}{h}":
        ["fd-forward-difference-formula"],
    "Requires $O(n)$ evaluations:": ["fd-cost-n-plus-1"],
    r"\mathbf{e}_1, \mathbf{e}_2, \mathbf{e}_3, \dots, \mathbf{e}_n": ["fd-cost-n-plus-1"],
    "<u>Benefit</u> | <u>Challenge</u>": Reason("the table's header"),
    "Only need black box access to $f$ | Choose value of $h$": ["fd-black-box", "fd-choose-h"],
    " | Numerical instability if $h$ small inaccurate if $h$ large": ["fd-choose-h"],
    r"~ ~ ~ | To find $\nabla_x f$ , compute $\frac{\partial f}{\partial x_i}$ for $i=1..n$ n+1 "
    "forward passes of $f$": ["fd-cost-n-plus-1"],
    # Computational Graphs + Forward Mode Auto. Diff.
    r"$f(x_1, x_2) = [\sin\left(\frac{x_1}{x_2}\right) + \frac{x_1}{x_2} - e^{x_2}] \times "
    r"\left[\frac{x_1}{x_2} - e^{x_2}\right]$": ["fwd-example-f"],
    r"$\frac{\partial f}{\partial x}$": Reason(
        "a caption under 'What is Automatic Differentiation?' whose figure is lost; "
        "no statement survives"),
    "Primals | Tangents": Reason("the table's header"),
    r"$v_{-1} = x_1$ | $\dot{v}_{-1}$": ["fwd-table-inputs", "fwd-table-tangent-column"],
    r"$v_0 = x_2$ | $\dot{v}_0$": ["fwd-table-inputs", "fwd-table-tangent-column"],
    r"$v_1 = v_{-1}/v_0$ | $\dot{v}_1 = (v_0\dot{v}_{-1} - v_{-1}\dot{v}_0)/v_0^2$":
        ["fwd-table-primal-v1", "fwd-table-tangent-rule-v1"],
    r"$v_2 = \sin(v_1)$ | $\dot{v}_2 = \cos(v_1) \times \dot{v}_1$":
        ["fwd-table-primal-v2", "fwd-table-tangent-rule-v2"],
    r"$v_3 = \exp(v_0)$ | $\dot{v}_3 = v_3 \times \dot{v}_0$":
        ["fwd-table-primal-v3", "fwd-table-tangent-rule-v3"],
    r"$v_4 = v_1 - v_3$ | $\dot{v}_4 = \dot{v}_1 - \dot{v}_3$":
        ["fwd-table-primal-v4", "fwd-table-tangent-rule-v4"],
    r"$v_5 = v_2 + v_4$ | $\dot{v}_5 = \dot{v}_2 + \dot{v}_4$":
        ["fwd-table-primal-v5", "fwd-table-tangent-rule-v5"],
    r"$v_6 = v_5 \times v_4$ | $\dot{v}_6 = \dot{v}_5 v_4 - \dot{v}_4 v_5$":
        ["fwd-table-primal-v6", "fwd-table-tangent-rule-v6", "fwd-table-tangent-column"],
    r"$f(x_1, x_2) = v_6$ | $\frac{\partial f}{\partial x_1} = \dot{v}_6$":
        ["fwd-example-f", "fwd-table-partial-x1"],
    # the printed values: the primal column, then the tangent column (see sec_3's reading)
    "$= 1.500$": ["fwd-table-inputs"], "$= 0.500$": ["fwd-table-inputs"],
    "$= 3.000$": ["fwd-table-primal-v1"], "$= 0.141$": ["fwd-table-primal-v2"],
    "$= 1.649$": ["fwd-table-primal-v3"], "$= 1.351$": ["fwd-table-primal-v4"],
    "$= 1.492$": ["fwd-table-primal-v5"], "$= 2.017$": ["fwd-table-primal-v6", "fwd-example-f"],
    "$= 1.000$": ["fwd-table-inputs"], "$= 0.000$": ["fwd-table-inputs"],
    "$= 2.000$": ["fwd-table-tangent-rule-v1"], "$= -1.980$": ["fwd-table-tangent-rule-v2"],
    "$= 0.000$#2": ["fwd-table-tangent-rule-v3"], "$= 2.000$#2": ["fwd-table-tangent-rule-v4"],
    "$= 0.020$": ["fwd-table-tangent-rule-v5"], "$= 3.012$": ["fwd-table-tangent-rule-v6"],
    "$= 3.012$#2": ["fwd-table-partial-x1"],
    # Computing derivatives / Gradients: Backward Computation
    "For $k = N - 1..0$": LOOP, "For $i = 1: \\text{layer width}$": LOOP,
    "For $k = N - 1..0$#2": ["net-flops-backward-to-input", "net-flops-weight-gradient-products"],
    "For $i = 1: \\text{layer width}$#2": ["net-flops-backward-to-input",
                                           "net-flops-weight-gradient-products"],
    r"\frac{\partial \text{Div}(Y, d)}{\partial y_i^{(N)}} = "
    r"\frac{\partial \text{Div}(Y, d)}{\partial y_i}":
        ["mlp-output-derivative-sqerr-identity", "mlp-output-derivative-xent-sigmoid",
         "mlp-output-derivative-sqerr-tanh"],
    r"\frac{\partial Div}{\partial z_i^{(N)}} = \frac{\partial y_i^{(N)}}{\partial z_i^{(N)}} "
    r"\frac{\partial Div}{\partial y_i^{(N)}}": LAST_DZ,
    r"\frac{\partial \text{Div}}{\partial z_i^{(N)}} = f'_N(z_i^{(N)}) "
    r"\frac{\partial \text{Div}}{\partial y_i^{(N)}}": LAST_DZ,
    r"\frac{\partial Div}{\partial w_{ij}^{(N)}} = \frac{\partial z_j^{(N)}}{\partial w_{ij}^{(N)}} "
    r"\frac{\partial Div}{\partial z_j^{(N)}}":
        ["mlp-last-layer-dw-identity-sqerr", "mlp-last-layer-dw-sigmoid-xent",
         "mlp-last-layer-dw-tanh-sqerr"],
    r"\frac{\partial Div}{\partial y_i^{(N-1)}} = \sum_j \frac{\partial z_j^{(N)}}{\partial "
    r"y_i^{(N-1)}} \frac{\partial Div}{\partial z_j^{(N)}}":
        ["mlp-last-layer-dy-prev-identity-sqerr", "mlp-last-layer-dy-prev-sigmoid-xent",
         "mlp-last-layer-dy-prev-tanh-sqerr"],
    r"\frac{\partial \text{Div}}{\partial y_i^{(N)}} = \frac{\partial \text{Div}(Y, d)}"
    r"{\partial y_i}": LOOP,
    r"\frac{\partial \text{Div}}{\partial z_i^{(N)}} = f'_k(z_i^{(N)}) "
    r"\frac{\partial \text{Div}}{\partial y_i^{(N)}}": LOOP,
    r"\frac{\partial \text{Div}}{\partial y_i^{(k)}} = \sum_j w_{ij}^{(k+1)} "
    r"\frac{\partial \text{Div}}{\partial z_j^{(k+1)}}": LOOP,
    r"\frac{\partial \text{Div}}{\partial z_i^{(k)}} = f'_k(z_i^{(k)}) "
    r"\frac{\partial \text{Div}}{\partial y_i^{(k)}}": LOOP,
    r"\forall j \frac{\partial \text{Div}}{\partial w_{ij}^{(k+1)}} = y_i^{(k)} "
    r"\frac{\partial \text{Div}}{\partial z_j^{(k+1)}}": LOOP,
    # Subgradients and the RELU, and the network questions
    r"f'(z) = \begin{cases} 0, & z < 0 \\ 1, & z \geq 0 \end{cases}": ["relu-derivative"],
    r"*Input* $\mathbb{R}^2 \rightarrow \mathbb{R}^{1000} \rightarrow \mathbb{R}^{1000} "
    r"\rightarrow \mathbb{R}$": ["net-gradients", "net-weight-gradient-not-orders-slower",
                                 "net-input-gradient-needs-no-weight-gradient"],
    r"How many flops? $\rightarrow$": ["net-flops-backward-to-input"],
    r"How many flops? $\rightarrow$#2": ["net-flops-weight-gradient-products"],
    r"\frac{\partial \text{Div}}{\partial y_i^{(k)}} = \sum_j w_{ij}^{(k+1)} \frac{\partial "
    r"\text{Div}}{\partial z_j^{(k+1)}} \quad \left| \frac{\partial \text{Div}}{\partial "
    r"z_i^{(k)}} = f'_k(z_i^{(k)}) \frac{\partial \text{Div}}{\partial y_i^{(k)}} \right.":
        ["net-flops-backward-to-input"],
    r"$\sim 10^6$ flops": ["net-flops-backward-to-input"],
    r"\forall j \quad \frac{\partial \text{Div}}{\partial w_{ij}^{(k+1)}} = y_i^{(k)} "
    r"\frac{\partial \text{Div}}{\partial z_j^{(k+1)}}": ["net-flops-weight-gradient-products"],
    r"$\sim 10^6$ flops#2": ["net-flops-weight-gradient-products"],
    # Multivariate input & output, and the chain rule for Jacobians
    r"f: \mathbb{R}^n \rightarrow \mathbb{R}^m": ["jacobian-shape"],
    r"J_f \in \mathbb{R}^{m \times n}": ["jacobian-shape"],
    "J_{f, ii} =": Reason("incomplete in the notes: the right-hand side of the entry formula "
                          "is missing, so there is nothing to check"),
    "y(x) = f(g(x))": ["jacobian-chain-rule"],
    r"\begin{array}{l} f: \mathbb{R}^n \rightarrow \mathbb{R}^m \\ g: \mathbb{R}^p "
    r"\rightarrow \mathbb{R}^n \end{array}": ["jacobian-chain-rule"],
    r"J_y(x) = \underbrace{\underbrace{J_f(g(x))}_{\mathbb{R}^{m \times n}} "
    r"\underbrace{J_g(x)}_{\mathbb{R}^{n \times p}}}_{\mathbb{R}^{m \times p}}":
        ["jacobian-chain-rule"],
    r"f \circ g: \mathbb{R}^p \rightarrow \mathbb{R}^m": ["jacobian-chain-rule"],
    r"z(y) = \underbrace{W}_{\mathbb{R}^m} \underbrace{y}_{\mathbb{R}^n} + "
    r"\underbrace{b}_{\mathbb{R}^m}": ["affine-jacobian-is-W", "affine-printed-shapes"],
    "J_z^{(y)} = W": ["affine-jacobian-is-W"],
    r"Let $f: \mathbb{R}^m \rightarrow \mathbb{R}$ $w \in \mathbb{R}^{m \times n}$ "
    r"$y \in \mathbb{R}^n$": ["dense-jacobian-wrt-y", "dense-jacobian-wrt-b",
                              "dense-jacobian-wrt-w"],
    r"D = f(\underbrace{wy + b}_z)": ["dense-jacobian-wrt-y", "dense-jacobian-wrt-b",
                                      "dense-jacobian-wrt-w"],
    r"\bar{J}_D(y) = \bar{J}_f(z)w": ["dense-jacobian-wrt-y"],
    r"\bar{J}_D(b) = \bar{J}_f(z)": ["dense-jacobian-wrt-b"],
    r"\bar{J}_D(w) = \bar{J}_f^t(z) y^t": ["dense-jacobian-wrt-w"],
}
