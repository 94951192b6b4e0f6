"""A record in words, for the terminal: what failed, both numbers, the tolerance, and how to
rerun it; a localised subject defect starts with its blame line (`verdict.blame_line`).
Non-finite numbers are printed as words, never a format error."""
from __future__ import annotations

from .calls import fmt
from .verdict import blame_line, check_label

__all__ = ["explain", "blame_line", "shrunk_line"]


def shrunk_line(s: dict) -> str:
    """"shrunk to [2.0]: got ..., want ... (4 checks tried)": the simplest input that still
    fails (no got and want where the engine raised: its message is the record's detail)."""
    v = s.get("values") or {}
    stop = "" if s.get("complete", True) else f"; stopped: {s.get('stopped')}"
    n = s.get("checks")
    same = ", no simpler failing input found" if s.get("is_drawn") else ""
    values = "" if v.get("got") is None and v.get("reference") is None else \
        f": got {v.get('got')}, want {v.get('reference')}"
    return (f"shrunk to {s.get('inputs')}{same}{values} ({n} check{'' if n == 1 else 's'} "
            f"tried{stop})")


def explain(rec: dict) -> str:
    lines = []
    if rec.get("blame"):
        lines.append(blame_line(rec["blame"]))
    lines.append(f"[{rec['category']}] claim {rec['claim']} ({rec['section']}), engine "
                 f"{rec['engine']}, check {check_label(rec)}")
    if rec.get("inputs") is not None:
        lines.append(f"  inputs: {rec['inputs']}")
    if rec.get("shrunk"):
        lines.append(f"  {shrunk_line(rec['shrunk'])}")
    if rec.get("values"):
        lines.append(f"  values: {rec['values']}")
    if rec.get("max_abs_error") is not None:
        lines.append(f"  error: {fmt(rec['max_abs_error'], 3)} (relative "
                     f"{fmt(rec.get('max_rel_error'), 3)}); tolerance "
                     f"{fmt(rec.get('tolerance'), 3)}; reference {rec.get('reference')}")
    if rec.get("detail"):
        lines.append("  " + rec["detail"].replace("\n", "\n    "))
    lines.append(f"  reproduce: {rec['reproduce']}")
    return "\n".join(lines)
