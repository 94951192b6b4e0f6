"""The report writer: a conformance run's records (results.json) to one self-contained HTML
page. Imports neither pytest nor any oracle (only the dependency-free verdict schema)."""
from .writer import render, write_report

__all__ = ["render", "write_report"]
