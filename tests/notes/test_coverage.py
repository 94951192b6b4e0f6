"""Every formula, table row and printed value of the notes maps to a claim, or to a reason."""
from pathlib import Path

import pytest

from oracles.catalogue.coverage_map import COVERAGE, Reason
from oracles.claims import load_catalogue
from oracles.coverage import VENDORED_NOTES, notes_items, notes_path

# the notes as the course publishes them, beside this checkout (not part of the package)
SHARED_NOTES = Path(__file__).resolve().parents[3] / "shared" / "notes" / "autodiff-notes.md"


def test_every_item_of_the_notes_maps_to_a_claim_or_a_reason():
    items = notes_items(notes_path().read_text())
    missing = [f"{kind}: {key}" for kind, key in items if key not in COVERAGE]
    assert not missing, "items of the notes that no claim checks:\n" + "\n".join(missing)


def test_the_map_names_only_real_claims_and_real_items():
    ids = {c.id for c in load_catalogue()}
    keys = {key for _, key in notes_items(notes_path().read_text())}
    stale = [k for k in COVERAGE if k not in keys]
    assert not stale, f"map entries that are not in the notes: {stale}"
    for key, target in COVERAGE.items():
        if isinstance(target, Reason):
            assert target.strip(), key
        else:
            unknown = [t for t in target if t not in ids]
            assert target and not unknown, f"{key!r} maps to unknown claims {unknown}"


def test_every_claim_of_the_catalogue_carries_its_printed_formula_and_section():
    for c in load_catalogue():
        assert c.printed.strip() and c.section.strip(), c.id


@pytest.mark.skipif(not SHARED_NOTES.exists(), reason="no ../shared/notes beside the checkout")
def test_the_copy_of_the_notes_is_identical_to_the_notes():
    assert VENDORED_NOTES.read_bytes() == SHARED_NOTES.read_bytes()


def test_every_reading_names_claims_that_exist_and_quotes_the_notes():
    import re

    from oracles.catalogue.readings import READINGS
    from oracles.extras import readings
    ids = {c.id for c in load_catalogue()}
    text = " ".join(notes_path().read_text().split())       # whitespace folded
    for r in READINGS:
        assert set(r.claims) <= ids, (r.text, set(r.claims) - ids)
        if not r.text.startswith("("):
            for frag in re.split(r" \.\.\. |, (?=\\|\$)", r.text):
                assert " ".join(frag.split()) in text, (r.text, frag)
    unchecked = readings()["unchecked"]
    assert unchecked and all(u["reason"] for u in unchecked)
