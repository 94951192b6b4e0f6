"""Every formula, table row and printed value of the notes, found by reading the notes file,
so that a test can require each to map to a claim or to a written reason."""
from __future__ import annotations

import re
from pathlib import Path

from .catalogue import NOTES as VENDORED_NOTES   # the catalogue's copy of the notes


def notes_path() -> Path:
    """The notes the catalogue transcribes (its own copy, shipped with it)."""
    return VENDORED_NOTES


def notes_items(text: str) -> list[tuple[str, str]]:
    """(kind, key) for every checkable item, in order. Kinds: "display" ($$...$$), "line" (a
    line that is a single $...$ formula: the example function, the printed values), "inline"
    (a sentence holding $...$), "table" (a row of a tab-separated table). A key that occurs
    more than once gets "#2", "#3", ... after its second and later occurrences."""
    items = []
    for m in re.finditer(r"\$\$(.+?)\$\$", text, flags=re.S):
        items.append((m.start(), "display", " ".join(m.group(1).split())))
    # blank out display formulas, keeping every character's position
    stripped = re.sub(r"\$\$(.+?)\$\$", lambda m: re.sub(r"[^\n]", " ", m.group(0)), text,
                      flags=re.S)
    pos = 0
    for line in stripped.splitlines(keepends=True):
        s = line.strip()
        if "\t" in line and s:
            items.append((pos, "table", " | ".join(c.strip() for c in line.split("\t"))))
        elif re.fullmatch(r"\$[^$]+\$", s):
            items.append((pos, "line", s))
        elif "$" in s:
            items.append((pos, "inline", " ".join(s.split())))
        pos += len(line)
    items.sort()
    seen: dict[str, int] = {}
    out = []
    for _, kind, key in items:
        seen[key] = seen.get(key, 0) + 1
        out.append((kind, key if seen[key] == 1 else f"{key}#{seen[key]}"))
    return out
