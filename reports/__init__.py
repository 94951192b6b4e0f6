"""The report writer: a conformance run's records (results.json) to one self-contained HTML
page. Imports neither pytest nor any oracle."""
from .writer import write_report

__all__ = ["write_report"]
