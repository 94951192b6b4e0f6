"""The catalogue of the lecture notes: one claim module per section (`sec_*.py`), the notes'
text they transcribe (`autodiff-notes.md`), the map of every formula of the notes to its claim
(`coverage_map.py`) and the baseline of known errata (`errata.toml`). It ships inside the
installed package, so `ad-conformance` runs it from any directory."""
from pathlib import Path

HERE = Path(__file__).resolve().parent
NOTES = HERE / "autodiff-notes.md"
ERRATA = HERE / "errata.toml"
