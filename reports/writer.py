"""Render a conformance run's results (the JSON contract) to one self-contained HTML page:
inline CSS, inline SVG (mathematics by matplotlib's mathtext, plots by matplotlib), a little
inline script for filtering, no external resource. Every string from a claim, a formula file
or an engine goes through Jinja2's autoescaping."""
from __future__ import annotations

import functools
import io
import math
import os
import re
from collections import defaultdict
from pathlib import Path

import jinja2
from jinja2 import Environment, FileSystemBytecodeCache, FileSystemLoader, select_autoescape
from markupsafe import Markup

from oracles.verdict import (CATEGORIES, CATEGORY_LIST, PRIMITIVES, SEVERITY, blame_line,
                             check_label, unfinished_page)

from .findings import findings, readings
from .cache import cache_dir, cached, file_hash, matplotlib_version
from .plots import fd_plot, inline_svg

HERE = Path(__file__).resolve().parent
_ROLE_ORDER = ("referee", "ad", "numeric")


def engine_order(result: dict) -> list[str]:
    """The report's columns: the run's subjects first, then the oracles by role (as the run
    recorded them), then the notes."""
    s = result.get("summary", {})
    subjects = [e["name"] if isinstance(e, dict) else e for e in s.get("subjects", [])]
    roles = s.get("roles", {})
    oracles = sorted(roles, key=lambda n: (_ROLE_ORDER.index(roles[n])
                                           if roles[n] in _ROLE_ORDER else 9, n))
    return subjects + oracles + ["notes"]


# --- mathematics --------------------------------------------------------------------------------

_LATEX_FIXES = [(r"\\text\{", r"\\mathrm{"), (r"\\operatorname\{", r"\\mathrm{"),
                (r"\\dots", r"\\ldots"), (r"\\left\|", "|"), (r"\\right\.", ""),
                (r"\\left\[", "["), (r"\\right\]", "]"), (r"\\left\(", "("),
                (r"\\right\)", ")")]


def _looks_like_math(s: str) -> bool:
    return "$" in s or bool(re.search(r"\\[a-zA-Z]+|[_^]", s))


# how formulas are drawn, whatever the process set before (glyphs as paths), and part of
# their cache key
MATH_RC = {"svg.fonttype": "path"}


@functools.lru_cache(maxsize=None)
def render_math(latex: str) -> Markup | None:
    """The formula as inline SVG by matplotlib's mathtext, or None where mathtext cannot
    parse it (the page then shows the LaTeX source). Kept on disk between runs
    (`reports.cache`): mathtext took about half of the page's time."""
    if not _looks_like_math(latex):
        return None
    version = matplotlib_version()
    if version is None:
        return None
    s = latex
    for pat, rep in _LATEX_FIXES:
        s = re.sub(pat, rep, s)
    if "$" not in s:
        s = f"${s}$"

    def draw():
        try:
            import matplotlib
        except ImportError:
            return None
        matplotlib.use("Agg")
        from matplotlib import mathtext
        from matplotlib.font_manager import FontProperties
        buf = io.BytesIO()
        try:
            with matplotlib.rc_context(MATH_RC):
                mathtext.math_to_image(s, buf, prop=FontProperties(size=15), format="svg",
                                       dpi=72)
        except Exception:  # noqa: BLE001 -- mathtext covers a subset of LaTeX
            return ""
        return inline_svg(buf.getvalue().decode("utf-8"))
    svg = cached("", f"{MATH_RC}\n{s}", version, draw)
    return Markup(svg) if svg else None


# --- the page ---------------------------------------------------------------------------------

def _worst(records):
    return max(records, key=lambda r: SEVERITY.get(r["category"], 0))["category"]


def _in(r) -> str:
    dtype = r.get("dtype") or "float64"
    return "" if dtype == "float64" else f" in {dtype}"


def compare(current: dict, previous: dict | None) -> dict | None:
    """New, fixed and unchanged discrepancies against a previous run."""
    if previous is None:
        return None

    def keys(result):
        return {(r["claim"], r["engine"], r["check"] + _in(r)): r["category"]
                for r in result.get("records", []) if r["category"] != "agree"}

    cur, old = keys(current), keys(previous)
    row = lambda k, cat: {"claim": k[0], "engine": k[1], "check": k[2], "category": cat}  # noqa: E731
    return {"new": [row(k, c) for k, c in sorted(cur.items()) if k not in old],
            "fixed": [row(k, c) for k, c in sorted(old.items()) if k not in cur],
            "unchanged": [row(k, c) for k, c in sorted(cur.items()) if k in old],
            "previous": previous.get("summary", {})}


def build_context(result: dict, previous: dict | None = None) -> dict:
    records = result.get("records", [])
    claims_info = result.get("claims", {})
    by_claim = defaultdict(list)
    for r in records:
        by_claim[r["claim"]].append(r)
    engines = [e for e in engine_order(result) if any(r["engine"] == e for r in records)]
    engines += sorted({r["engine"] for r in records} - set(engines))
    sections: dict[str, list] = defaultdict(list)
    for cid, recs in by_claim.items():
        info = claims_info.get(cid) or {"id": cid, "section": recs[0]["section"],
                                        "printed": "", "reading": "", "condition": "",
                                        "probe": recs[0].get("probe", False)}
        cells = {}
        for e in engines:
            er = [r for r in recs if r["engine"] == e]
            if er:
                worst = _worst(er)
                cells[e] = {"category": worst, "n": len(er), "baselined": any(
                    r.get("baselined") for r in er if r["category"] == worst)}
        discrepancies = [r for r in recs if r["category"] != "agree"]
        sections[info["section"]].append({
            "id": cid, "info": info, "cells": cells, "worst": _worst(recs),
            "math": render_math(info.get("printed", "")) if info.get("printed") else None,
            "discrepancies": discrepancies, "n_records": len(recs),
            "agreeing": sorted({r["engine"] for r in recs if r["category"] == "agree"})})
    for items in sections.values():
        items.sort(key=lambda c: c["id"])
    extras = result.get("extras", {})
    trace = _trace(extras.get("trace"), records, by_claim)
    counts = result["summary"].get("counts", {})
    return {"s": result["summary"], "counts": [(c, counts.get(c, 0)) for c in CATEGORIES],
            "engines": engines, "sections": sorted(sections.items()),
            "categories": CATEGORIES, "category_list": CATEGORY_LIST, "trace": trace,
            "fd_plot": fd_plot(extras.get("fd_curves")), "fd": extras.get("fd_curves"),
            "kinks": extras.get("kinks") if isinstance(extras.get("kinks"), list) else None,
            "costs": extras.get("costs") if isinstance(extras.get("costs"), dict) and
            "ourad" in extras.get("costs", {}) else None,
            "comparison": compare(result, previous), "n_records": len(records),
            "findings": findings(records), "readings": readings(result),
            "scorecard": scorecard(result),
            "taylor_plot": _taylor_example(extras.get("taylor")),
            "fmt": _fmt}


def _trace(trace, records, by_claim):
    """The trace tables annotated for the page (a copy: the result stays as recorded)."""
    if not isinstance(trace, dict) or "forward" not in trace:
        return None
    import copy
    trace = copy.deepcopy(trace)
    rule_cat = {r["claim"]: _worst(by_claim[r["claim"]]) for r in records
                if r["claim"].startswith("fwd-table-tangent-rule")}
    for row in trace["forward"]:
        row["value_ok"] = abs(float(row["printed_value"]) - row["reference_primal"]) <= \
            0.5 * 10 ** -_decimals(row["printed_value"]) + 1e-12
        row["tangent_ok"] = abs(float(row["printed_tangent"]) - row["reference_tangent"]) <= \
            0.5 * 10 ** -_decimals(row["printed_tangent"]) + 1e-12
        row["rule_category"] = rule_cat.get(row["rule_claim"]) if row["rule_claim"] else None
        row["rule_math"] = render_math(row["printed_rule"])
        row["primal_math"] = render_math(row["printed_primal"])
        row["computed_primal_ok"] = _close(row["computed_primal"], row["reference_primal"])
        row["computed_tangent_ok"] = _close(row["computed_tangent"], row["reference_tangent"])
    for row in trace["adjoint"]:
        row["ok"] = _close(row["computed_adjoint"], row["reference_adjoint"])
    return trace


def _taylor_example(data):
    if not isinstance(data, dict) or not data.get("subjects"):
        return None
    from .plots import taylor_plot
    return taylor_plot([(f"{s['engine']} (rate {s['rate']:.2f})" if s.get("rate") is not None
                         else s["engine"], data["steps"], s["remainders"])
                        for s in data["subjects"]],
                       f"The notes' example at {tuple(data['point'])} along "
                       f"{tuple(data['tangent'])}")


def _taylor_card(r):
    """The plot of a Taylor record that did not agree (its steps and remainders)."""
    v = r.get("values") or {}
    if r.get("check") != "taylor" or not v.get("steps"):
        return None
    from .plots import taylor_plot
    return taylor_plot([(r["engine"], v["steps"], v["remainders"])],
                       f"observed rate {v.get('rate', float('nan')):.2f}")


def _close(got, want) -> bool:
    """A subject's value in the trace tables against the reference (None: it gave none)."""
    return got is not None and abs(got - want) <= 1e-12 * max(1.0, abs(want))


def scorecard(result: dict) -> dict | None:
    """The Primitives section as a grade sheet: one row per primitive, one column per
    (subject, check), a cell the worst verdict there; None without that section."""
    s = result.get("summary", {})
    subjects = [e["name"] if isinstance(e, dict) else e for e in s.get("subjects", [])]
    recs = [r for r in result.get("records", [])
            if r.get("section") == PRIMITIVES and r["engine"] in subjects]
    if not recs:
        return None
    order = ("jvp", "vjp", "value", "transpose", "jacobian", "taylor", "hvp", "hvp-symmetry",
             "kink-jvp", "kink-vjp", "float32")

    def column(r):     # both transposes in one column, and every float32 check in one
        c = r["check"]
        return "float32" if r.get("dtype") == "float32" else \
            "transpose" if c.startswith("transpose") else c
    checks = sorted({column(r) for r in recs},
                    key=lambda c: (order.index(c) if c in order else len(order), c))
    cells: dict = defaultdict(list)
    for r in recs:
        cells[(r["claim"], r["engine"], column(r))].append(r)
    rows = []
    for cid in sorted({r["claim"] for r in recs}):
        row = {(e, c): _worst(cells[(cid, e, c)]) for e in subjects for c in checks
               if cells.get((cid, e, c))}
        wrong = any(v not in RIGHT + NO_VERDICT for v in row.values())
        rows.append({"claim": cid, "op": cid.removeprefix("op-"), "cells": row,
                     "wrong": wrong,
                     "ok": not wrong and any(v in RIGHT for v in row.values())})
    return {"subjects": subjects, "checks": checks, "rows": rows,
            "passed": sum(r["ok"] for r in rows), "wrong": sum(r["wrong"] for r in rows),
            "unverified": sum(not r["ok"] and not r["wrong"] for r in rows)}


# a scorecard cell's verdicts: right, and none (a Taylor test of a linear op has no rate to
# measure, an engine without hvp is not asked): a primitive with no wrong cell and a right one
# is right; counting "no verdict" as wrong called every correct engine without hvp wrong
RIGHT = ("agree", "kink-convention")
NO_VERDICT = ("inconclusive", "unsupported")


def _decimals(text: str) -> int:
    return len(text.split(".")[1]) if "." in text else 0


def _fmt(v, digits=6):
    if v is None:
        return ""
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            return str(v)
        return f"{v:.{digits}g}"
    return str(v)


class _BytecodeCache(FileSystemBytecodeCache):
    """Jinja2's bytecode cache, where nothing is an error: a file that cannot be read back (cut
    short by a crash, or from another Jinja2) is compiled again, a directory that cannot be
    written leaves the page compiled as without it. An entry is checked against the
    template's text, Jinja2's version and this file's text (the filters and settings the
    template is compiled with)."""

    def get_source_checksum(self, source: str) -> str:
        return super().get_source_checksum(
            f"{jinja2.__version__}\n{file_hash(__file__)}\n{source}")

    def load_bytecode(self, bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except Exception:  # noqa: BLE001 -- a damaged entry is a cache miss
            bucket.reset()

    def dump_bytecode(self, bucket) -> None:
        try:
            super().dump_bytecode(bucket)
        except OSError:
            pass


def _bytecode_cache():
    """Where the compiled template is kept, beside the pictures (`_BytecodeCache`):
    compiling it took 0.05 s of every page."""
    d = cache_dir()
    if d is None:
        return None
    try:
        (d / "jinja").mkdir(exist_ok=True)
    except OSError:
        return None
    return _BytecodeCache(str(d / "jinja"))


@functools.lru_cache(maxsize=1)
def _env():
    env = Environment(loader=FileSystemLoader(str(HERE)),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      bytecode_cache=_bytecode_cache())
    env.filters["fmt"] = _fmt
    env.filters["blame_line"] = blame_line
    env.filters["check_label"] = check_label
    env.filters["taylor_plot"] = _taylor_card
    return env


def draw_pictures(printed, extras) -> None:
    """Draw into the picture cache what a page of these claims (their printed formulas,
    `printed`) and these extras would draw: its formulas and its two plots (not the Taylor
    cards of failing records, which depend on the records). The conformance run's
    `test_facts` does this beside the claims (under pytest-xdist in a worker), so that the
    page, written after the last claim, finds every picture drawn. Nothing is raised: a
    picture not drawn here is drawn by the page."""
    trace = extras.get("trace")
    rows = trace.get("forward", ()) if isinstance(trace, dict) else ()
    jobs = [lambda latex=latex: render_math(latex) for latex in printed if latex]
    jobs += [lambda row=row, k=k: render_math(row[k]) for row in rows
             for k in ("printed_rule", "printed_primal")]
    jobs += [lambda: fd_plot(extras.get("fd_curves")),
             lambda: _taylor_example(extras.get("taylor"))]
    for job in jobs:
        try:
            job()
        except Exception:  # noqa: BLE001 -- the page draws what is missing
            pass


def render(result: dict, previous: dict | None = None) -> str:
    if result.get("summary", {}).get("unfinished"):   # a run that did not finish
        return unfinished_page(result["summary"])
    return _env().get_template("template.html.j2").render(**build_context(result, previous))


def write_report(result: dict, path, previous: dict | None = None) -> Path:
    """Write the page atomically: a temporary file beside it, then a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = render(result, previous)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path
