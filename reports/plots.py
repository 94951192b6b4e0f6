"""The report's plots, as inline SVG by matplotlib: the finite-difference error against the step
(`fd_plot`) and the Taylor test's remainder r(h) = |f(x + h v) - f(x) - h J v| against the step,
with the slopes 1 (a wrong J v) and 2 (a right one) drawn beside it (`taylor_plot`).

Each plot is kept in the picture cache (`reports.cache`), named by matplotlib's version, this
file's text and the plot's data: the same data draws the same picture, so a run whose plots
did not change neither imports pyplot nor draws (0.5-1 s of the page's time)."""
from __future__ import annotations

import io
import json
import re

from markupsafe import Markup

from .cache import cached, file_hash, matplotlib_version


def pyplot():
    """matplotlib's pyplot on the Agg backend; None without it."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def svg_figure(fig) -> Markup:
    """A figure as inline SVG (no metadata), its text kept as text, the figure closed. The
    setting is the figure's alone (`rc_context`): set for the whole process, it changed how
    every formula drawn after a plot came out, and the cache kept that."""
    import matplotlib.pyplot as plt
    buf = io.StringIO()
    with plt.rc_context({"svg.fonttype": "none"}):
        fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    return Markup(inline_svg(buf.getvalue()))


def inline_svg(svg: str) -> str:
    """matplotlib's SVG file as an element to inline in the page: from `<svg`, without its
    metadata (dates, which would make two drawings of one picture differ)."""
    svg = svg[svg.index("<svg"):]
    return re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S)


def _plot(kind: str, data, draw) -> Markup | None:
    """`draw()`'s picture of `data`, from the cache where it was drawn before; None without
    matplotlib."""
    version = matplotlib_version()
    if version is None:
        return None
    source = f"{kind}\n{file_hash(__file__)}\n{json.dumps(data, sort_keys=True, default=repr)}"
    svg = cached("plot-", source, version,
                 lambda: None if (fig := draw()) is None else str(fig))
    return Markup(svg) if svg else None


def taylor_plot(series, title="") -> Markup | None:
    """`series`: [(label, steps, remainders)]. None where there is nothing to draw or
    matplotlib is missing."""
    series = [(lab, list(h), list(r)) for lab, h, r in series or () if h and r]
    if not series:
        return None
    return _plot("taylor", [series, title], lambda: _draw_taylor(series, title))


def _draw_taylor(series, title):
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


def fd_plot(data) -> Markup | None:
    """The fd error curves of the report's extras; None without them or matplotlib."""
    if not data or "curves" not in data:
        return None
    return _plot("fd", data, lambda: _draw_fd(data))


def _draw_fd(data):
    plt = pyplot()
    if plt is None:
        return None
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    styles = {("float64", "forward"): ("C0", "-"), ("float64", "central"): ("C1", "-"),
              ("float32", "forward"): ("C0", "--"), ("float32", "central"): ("C1", "--")}
    for c in data["curves"]:
        color, ls = styles.get((c["dtype"], c["method"]), ("k", "-"))
        pts = [(h, e) for h, e in zip(c["steps"], c["errors"]) if e > 0]
        if pts:
            ax.loglog(*zip(*pts), color=color, ls=ls,
                      label=f"{c['method']}, {c['dtype']} (slopes {_slopes(pts)})")
        if c.get("chosen_error", 0) > 0:
            ax.loglog([c["chosen_step"]], [c["chosen_error"]], "o", color=color, ms=7,
                      mfc="white" if c["dtype"] == "float32" else color)
    ax.set_xlabel("step h")
    ax.set_ylabel("|D(h) - f'(x)|")
    ax.set_title(f"Finite-difference error, {data.get('function', '')}; circles: the step "
                 "the error model picks", fontsize=9)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7)
    return svg_figure(fig)


def _slopes(pts):
    """Fitted log-log slopes of the small-h and the large-h ends of a curve."""
    import numpy as np
    h = np.log10([p[0] for p in pts])
    e = np.log10([p[1] for p in pts])
    i = int(np.argmin(e))
    parts = []
    for lo, hi in ((0, i), (i + 1, len(h))):
        if hi - lo >= 3:
            parts.append(f"{np.polyfit(h[lo:hi], e[lo:hi], 1)[0]:+.1f}")
    return " / ".join(parts) or "n/a"
