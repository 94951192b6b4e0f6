"""`pytest tests/notes` runs the conformance run: the test lives in the installed catalogue
(oracles/catalogue/test_conformance.py), so `ad-conformance` runs the same one anywhere."""
from oracles.catalogue.test_conformance import test_facts, test_claim  # noqa: F401
