"""Notes sections "Reverse Mode Auto. Diff.", "Computing derivatives" and "Gradients: Backward
Computation": the backpropagation equations of an MLP, each as printed, checked on random
depths, widths, elementwise activations and divergences.

Readings (the notes are silent or loose here):
- a layer is z_j^(k) = sum_i w_ij^(k) y_i^(k-1), y^(k) = f_k(z^(k)), y^(0) = x: the notes'
  equations carry no bias, so neither does the network;
- in the initialisation "dDiv/dz_i^(N) = f'_k(z_i^(N)) dDiv/dy_i^(N)" the index k is not yet
  bound; we read f'_k as f'_N, the last layer's activation;
- the loop "For k = N-1..0" computes dDiv/dz^(0) = f'_0(z^(0)) dDiv/dy^(0) at k = 0, where the
  input layer has no z or f; we take f_0 as the identity, so that line changes nothing and
  dDiv/dy^(0) is the gradient with respect to the input;
- "f'_k" is the derivative of an elementwise activation: the formulas hold only for those.
  A softmax output layer breaks that condition; the probe claim shows the failure.
"""
import numpy as np

from oracles.claims import Claim, seeded

SECTION_RM = "Reverse Mode Auto. Diff."
SECTION_CD = "Computing derivatives"
SECTION_BW = "Gradients: Backward Computation"

ACTS = {  # name: (f, f' as the notes would write it, elementwise)
    "tanh": (lambda xp, z: xp.tanh(z), lambda xp, z: 1.0 - xp.tanh(z) ** 2),
    "sigmoid": (lambda xp, z: xp.sigmoid(z),
                lambda xp, z: xp.sigmoid(z) * (1.0 - xp.sigmoid(z))),
    "relu": (lambda xp, z: xp.relu(z), lambda xp, z: xp.where(z >= 0, 1.0, 0.0)),
    "identity": (lambda xp, z: z, lambda xp, z: 1.0 + 0.0 * z),
}
DIVS = {  # name: (Div(y, d), dDiv/dy)
    "sqerr": (lambda xp, y, d: 0.5 * xp.sum((y - d) ** 2), lambda xp, y, d: y - d),
    "xent": (lambda xp, y, d: -xp.sum(d * xp.log(y) + (1.0 - d) * xp.log(1.0 - y)),
             lambda xp, y, d: -d / y + (1.0 - d) / (1.0 - y)),
}
COMBOS = [("tanh", "identity", "sqerr"), ("sigmoid", "sigmoid", "xent"),
          ("relu", "identity", "sqerr"), ("tanh", "sigmoid", "xent")]


def make_network(hidden, out, div):
    """Draws (x, d, W_1, .., W_N): depth 1-3, widths 1-4."""
    def make(rng):
        depth = int(rng.integers(1, 4))
        widths = [int(w) for w in rng.integers(1, 5, size=depth + 1)]
        x = rng.standard_normal(widths[0])
        Ws = [rng.standard_normal((a, b)) / np.sqrt(a) for a, b in zip(widths, widths[1:])]
        d = rng.uniform(0.05, 0.95, widths[-1]) if div == "xent" else \
            rng.standard_normal(widths[-1])
        return [x, d] + Ws
    return make


def forward(xp, hidden, out, x, Ws):
    ys, zs = [x], [None]
    for k, W in enumerate(Ws, start=1):
        z = xp.matmul(ys[-1], W)           # z_j = sum_i w_ij y_i
        f = ACTS[out if k == len(Ws) else hidden][0]
        zs.append(z)
        ys.append(f(xp, z))
    return ys, zs


def network_loss(hidden, out, div):
    def f(xp, x, d, *Ws):
        ys, _ = forward(xp, hidden, out, x, Ws)
        return DIVS[div][0](xp, ys[-1], d)
    return f


def notes_backward(hidden, out, div):
    """The "Backward Computation" slide, line by line."""
    def vjp(xp, y_bar, x, d, *Ws):
        N = len(Ws)
        ys, zs = forward(xp, hidden, out, x, Ws)
        fprime = lambda k: ACTS[out if k == N else hidden][1] if k > 0 else \
            ACTS["identity"][1]  # noqa: E731
        dy = {N: DIVS[div][1](xp, ys[N], d)}         # Initialize: dDiv/dy^(N)
        dz = {N: fprime(N)(xp, zs[N]) * dy[N]}      # dDiv/dz^(N) = f'_k(z^(N)) dDiv/dy^(N)
        dW = {}
        for k in range(N - 1, -1, -1):              # For k = N-1..0
            W = Ws[k]                               # w^(k+1)
            dy[k] = np.sum(W * dz[k + 1][None, :], axis=1)         # sum_j w_ij dDiv/dz_j
            z_k = zs[k] if k > 0 else ys[0]
            dz[k] = fprime(k)(xp, z_k) * dy[k]                     # f'_k(z_i) dDiv/dy_i
            dW[k + 1] = ys[k][:, None] * dz[k + 1][None, :]        # y_i dDiv/dz_j
        return (y_bar * dy[0], None) + tuple(y_bar * dW[k] for k in range(1, N + 1))
    return vjp


BW_PRINTED = (r"\frac{\partial \text{Div}}{\partial y_i^{(k)}} = \sum_j w_{ij}^{(k+1)} "
              r"\frac{\partial \text{Div}}{\partial z_j^{(k+1)}}; "
              r"\frac{\partial \text{Div}}{\partial z_i^{(k)}} = f'_k(z_i^{(k)}) "
              r"\frac{\partial \text{Div}}{\partial y_i^{(k)}}; "
              r"\forall j \frac{\partial \text{Div}}{\partial w_{ij}^{(k+1)}} = y_i^{(k)} "
              r"\frac{\partial \text{Div}}{\partial z_j^{(k+1)}}")


def last_layer_arrays(out, div):
    def make(rng):
        n, m = (int(v) for v in rng.integers(1, 5, size=2))
        y_prev, W = rng.standard_normal(n), rng.standard_normal((n, m)) / np.sqrt(n)
        d = rng.uniform(0.05, 0.95, m) if div == "xent" else rng.standard_normal(m)
        return [y_prev, W, d]
    return make


def last_layer_loss(out, div):
    """Div as a function of the last layer's input y^(N-1), its weights and the target."""
    return lambda xp, y, W, d: DIVS[div][0](xp, ACTS[out][0](xp, xp.matmul(y, W)), d)


def last_dz_notes(out, div):
    def vjp(xp, y_bar, z, d):
        return (y_bar * ACTS[out][1](xp, z) * DIVS[div][1](xp, ACTS[out][0](xp, z), d), None)
    return vjp


CLAIMS = []
for hidden, out, div in COMBOS:
    tag = f"{hidden}-{out}-{div}"
    CLAIMS.append(Claim(
        id=f"mlp-backward-loop-{tag}", section=SECTION_BW, printed=BW_PRINTED,
        f=network_loss(hidden, out, div), domain=seeded(make_network(hidden, out, div)),
        notes_vjp=notes_backward(hidden, out, div),
        condition="elementwise activations", reading=f"hidden {hidden}, output {out}, "
        f"divergence {div}; see the module's readings"))

for out, div in [("identity", "sqerr"), ("sigmoid", "xent"), ("tanh", "sqerr")]:
    tag = f"{out}-{div}"
    CLAIMS += [
        Claim(id=f"mlp-output-derivative-{div}-{out}", section=SECTION_CD,
              printed=r"\frac{\partial \text{Div}(Y, d)}{\partial y_i^{(N)}} = "
                      r"\frac{\partial \text{Div}(Y, d)}{\partial y_i}",
              f=lambda xp, y, d, div=div: DIVS[div][0](xp, y, d),
              domain=seeded(lambda rng, div=div: [rng.uniform(0.05, 0.95, 3),
                                                  rng.uniform(0.05, 0.95, 3)]),
              notes_vjp=lambda xp, u, y, d, div=div: (u * DIVS[div][1](xp, y, d), None)),
        Claim(id=f"mlp-last-layer-dz-{tag}", section=SECTION_CD,
              printed=r"\frac{\partial Div}{\partial z_i^{(N)}} = f'_N(z_i^{(N)}) "
                      r"\frac{\partial Div}{\partial y_i^{(N)}}",
              f=lambda xp, z, d, out=out, div=div: DIVS[div][0](xp, ACTS[out][0](xp, z), d),
              domain=seeded(lambda rng, div=div: [rng.standard_normal(3),
                                                  rng.uniform(0.05, 0.95, 3)]),
              notes_vjp=last_dz_notes(out, div), condition="f_N elementwise"),
        Claim(id=f"mlp-last-layer-dw-{tag}", section=SECTION_CD,
              printed=r"\frac{\partial Div}{\partial w_{ij}^{(N)}} = "
                      r"\frac{\partial z_j^{(N)}}{\partial w_{ij}^{(N)}} "
                      r"\frac{\partial Div}{\partial z_j^{(N)}}",
              f=last_layer_loss(out, div), domain=seeded(last_layer_arrays(out, div)),
              notes_vjp=lambda xp, u, y, W, d, out=out, div=div: (
                  None, u * y[:, None] * last_dz_notes(out, div)(xp, 1.0, y @ W, d)[0][None, :],
                  None),
              reading="dz_j/dw_ij = y_i^(N-1)"),
        Claim(id=f"mlp-last-layer-dy-prev-{tag}", section=SECTION_CD,
              printed=r"\frac{\partial Div}{\partial y_i^{(N-1)}} = \sum_j "
                      r"\frac{\partial z_j^{(N)}}{\partial y_i^{(N-1)}} "
                      r"\frac{\partial Div}{\partial z_j^{(N)}}",
              f=last_layer_loss(out, div), domain=seeded(last_layer_arrays(out, div)),
              notes_vjp=lambda xp, u, y, W, d, out=out, div=div: (
                  u * np.sum(W * last_dz_notes(out, div)(xp, 1.0, y @ W, d)[0][None, :],
                             axis=1), None, None),
              reading="dz_j/dy_i = w_ij"),
    ]


def _softmax_f(xp, z, d):
    return DIVS["sqerr"][0](xp, xp.softmax(z), d)


def _softmax_notes(xp, u, z, d):
    s = xp.softmax(z)
    return (u * s * (1.0 - s) * (s - d), None)   # f'_N(z_i) read as ds_i/dz_i


CLAIMS.append(Claim(
    id="mlp-last-layer-dz-softmax-probe", section=SECTION_CD,
    printed=r"\frac{\partial \text{Div}}{\partial z_i^{(N)}} = f'_N(z_i^{(N)}) "
            r"\frac{\partial \text{Div}}{\partial y_i^{(N)}}",
    f=_softmax_f, domain=seeded(lambda rng: [rng.standard_normal(3), rng.standard_normal(3)]),
    notes_vjp=_softmax_notes, probe=True, condition="f_N elementwise (softmax is not)",
    reading="a probe outside the formula's condition: with a softmax output, y_i depends on "
            "every z_j and the elementwise formula drops the cross terms"))

CLAIMS.append(Claim(
    id="rev-store-activations", section=SECTION_RM,
    printed="In forward pass, calculate activation of all neurons. We store those activations.",
    f=network_loss("tanh", "identity", "sqerr"),
    domain=seeded(make_network("tanh", "identity", "sqerr")), examples=5,
    reading="the reverse pass over a network with its stored activations: the subjects' VJP "
            "on the notes' kind of network"))
