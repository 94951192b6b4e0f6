"""The Taylor test's picture: the remainder r(h) = |f(x + h v) - f(x) - h J v| against the
step, on log-log axes, with the slopes 1 (a wrong J v) and 2 (a right one) drawn beside it."""
from __future__ import annotations

import io
import re

from markupsafe import Markup


def pyplot():
    """matplotlib's pyplot on the Agg backend, text kept as text in SVG; None without it."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    plt.rcParams["svg.fonttype"] = "none"
    return plt


def svg_figure(fig) -> Markup:
    """A figure as inline SVG (no metadata), the figure closed."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    import matplotlib.pyplot as plt
    plt.close(fig)
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]
    return Markup(re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S))


def taylor_plot(series, title="") -> Markup | None:
    """`series`: [(label, steps, remainders)]. None where there is nothing to draw or
    matplotlib is missing."""
    series = [(lab, h, r) for lab, h, r in series or () if h and r]
    if not series:
        return None
    plt = pyplot()
    if plt is None:
        return None
    fig, ax = plt.subplots(figsize=(6.0, 3.4))
    for label, steps, rem in series:
        pts = [(h, e) for h, e in zip(steps, rem) if e and e > 0]
        if pts:
            ax.loglog(*zip(*pts), "o-", ms=3, label=label)
    h0, r0 = series[0][1][0], max(max(s[2]) for s in series) or 1.0
    for slope, ls in ((1, ":"), (2, "--")):
        hs = [h0, h0 / 2 ** 11]
        ax.loglog(hs, [r0 * (h / h0) ** slope for h in hs], color="grey", ls=ls, lw=0.8,
                  label=f"slope {slope}")
    ax.set_xlabel("step h")
    ax.set_ylabel("|f(x + h v) - f(x) - h J v|")
    ax.set_title(title, fontsize=9)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7)
    return svg_figure(fig)
