"""The report writer: escaping, atomic writes, size, the command line, comparison with a
previous run, and a real browser."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from reports.writer import compare, render, write_report

HOSTILE = "<script>window.__pwned = 1</script>"


def record(claim, engine, check, category, **kw):
    base = {"claim": claim, "section": kw.pop("section", "Sec A"), "engine": engine,
            "check": check, "category": category, "max_abs_error": None, "max_rel_error": None,
            "tolerance": None, "inputs": [1.0], "reference": "referee", "agreed": ["referee"],
            "values": {}, "detail": "", "reproduce": f"pytest tests/notes -k '{claim}'",
            "probe": False, "n_inputs": 1, "baselined": False}
    base.update(kw)
    return base


def results(records, gate="pass"):
    counts = {}
    for r in records:
        counts[r["category"]] = counts.get(r["category"], 0) + 1
    return {"summary": {"counts": counts, "gate": gate, "failures": 0, "stale_baseline": [],
                        "subject": "ourad", "subjects": ["ourad-reverse"],
                        "oracles": {"referee": "1.3"}, "oracles_skipped": {}, "versions": {},
                        "seed": 0, "hypothesis_profile": "ci", "examples": 8,
                        "claims_run": len({r["claim"] for r in records}), "date": "today",
                        "commit": "abc"},
            "records": records,
            "claims": {r["claim"]: {"id": r["claim"], "section": r["section"],
                                    "printed": r.get("_printed", r"\dot{v}_6 = \dot{v}_5 v_4"),
                                    "reading": "", "condition": "", "probe": False,
                                    "source": "x.py"} for r in records},
            "extras": {}}


SAMPLE = [record("c-one", "ourad-reverse", "vjp", "agree"),
          record("c-one", "notes", "notes-jvp", "notes-erratum", max_abs_error=5.9,
                 max_rel_error=1.96, tolerance=1e-14, values={"got": [1.0], "reference": [3.0]}),
          record("c-two", "ourad-reverse", "vjp", "subject-defect", section="Sec B",
                 max_abs_error=1e-6, max_rel_error=1e-6, tolerance=1e-14),
          record("c-three", "jax", "kink-jvp", "kink-convention", section="Sec B")]


def test_strings_from_claims_are_escaped():
    recs = [record("c-x", "ourad-reverse", "vjp", "subject-defect", detail=HOSTILE,
                   _printed=HOSTILE, values={HOSTILE: HOSTILE})]
    page = render(results(recs))
    assert HOSTILE not in page
    assert "&lt;script&gt;window.__pwned" in page


def test_report_is_written_atomically(tmp_path):
    out = tmp_path / "index.html"
    out.write_text("old")
    write_report(results(SAMPLE), out)
    assert out.read_text().startswith("<!doctype html>")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index.html"]   # no temporary left


def test_page_is_self_contained():
    page = render(results(SAMPLE))
    for needle in ('src="http', "href=\"http", "<link ", "@import", 'src="//'):
        assert needle not in page


def test_comparison_with_a_previous_run():
    old = results([record("c-one", "notes", "notes-jvp", "notes-erratum"),
                   record("c-gone", "ourad-reverse", "vjp", "subject-defect")])
    cmp = compare(results(SAMPLE), old)
    assert [r["claim"] for r in cmp["fixed"]] == ["c-gone"]
    assert [r["claim"] for r in cmp["unchanged"]] == ["c-one"]
    assert sorted(r["claim"] for r in cmp["new"]) == ["c-three", "c-two"]
    assert "Against the previous run" in render(results(SAMPLE), old)


def test_command_line_rerenders_and_rejects_bad_input(tmp_path):
    src = tmp_path / "results.json"
    src.write_text(json.dumps(results(SAMPLE)))
    out = tmp_path / "out.html"
    run = subprocess.run([sys.executable, "-m", "reports", str(src), "-o", str(out)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "c-two" in out.read_text()
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    run = subprocess.run([sys.executable, "-m", "reports", str(bad)], capture_output=True,
                         text=True)
    assert run.returncode == 2 and "not a results.json" in run.stderr


def test_writer_imports_neither_pytest_nor_an_oracle():
    # the writer reads the dependency-free verdict schema (oracles.verdict) and nothing else
    # of the harness: no engine, no session, no test framework
    code = ("import sys, reports; bad = [m for m in sys.modules if m.split('.')[0] in "
            "('pytest', 'jax', 'torch', 'mpmath', 'hypothesis') or (m.startswith('oracles.') "
            "and m not in ('oracles.verdict', 'oracles.protocol'))]; print(bad); "
            "sys.exit(1 if bad else 0)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


# --- in a real browser ------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTEFACTS = Path(__file__).resolve().parent.parent / "reports" / "latest"


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip("Chromium is missing: apt-get install -y chromium (Debian's package; "
                    "Playwright's own download is not used)")
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def real_report(tmp_path_factory):
    """A report of a small real run: two claims through every engine, with the extras."""
    from oracles.claims import find_claim
    from oracles.reproduce import RunOptions
    from oracles.session import AdSession
    out = tmp_path_factory.mktemp("report")
    ad = AdSession(RunOptions(examples=3), report_dir=out)
    ids = ["fwd-table-tangent-rule-v6", "relu-derivative", "affine-printed-shapes"]
    for cid in ids:
        claim = find_claim(cid)
        ad.add(cid, ad.check(claim))
        ad.claims[cid] = claim
    result = ad.finish()
    return out / "index.html", result


def test_report_in_a_browser(browser, real_report):
    page_path, result = real_report
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(page_path.as_uri())
    assert errors == []
    shown = {c: int(page.inner_text(f"#counts td[data-category='{c}']"))
             for c in result["summary"]["counts"]}
    assert shown == result["summary"]["counts"]
    rows = page.locator("#matrix-table tr.claim-row")
    assert rows.count() == 3
    page.select_option("#f-category", "notes-erratum")
    visible = [rows.nth(i).is_visible() for i in range(rows.count())]
    assert visible.count(True) == 2           # the v6 rule and the printed shape of W
    page.select_option("#f-category", "")
    page.check("#f-discrepant")
    assert all(rows.nth(i).is_visible() for i in range(rows.count()))
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTEFACTS / "report-screenshot.png"), full_page=False)
    page.close()


def test_report_renders_with_scripting_off(browser, real_report):
    page_path, result = real_report
    ctx = browser.new_context(java_script_enabled=False)
    page = ctx.new_page()
    page.goto(page_path.as_uri())
    rows = page.locator("#matrix-table tr.claim-row")
    assert rows.count() == 3 and all(rows.nth(i).is_visible() for i in range(3))
    assert page.locator(".claim").count() == 3 and page.locator("#trace-table").is_visible()
    ctx.close()


def test_a_report_the_size_of_the_default_run_stays_under_2_mb(tmp_path):
    # every claim of the catalogue, every engine and check, one in ten a discrepancy with its
    # detail and reproduction snippet: more than the default run writes
    from oracles.claims import load_catalogue
    recs = []
    engines = ["ourad-forward", "ourad-reverse", "jax", "torch", "fd", "referee", "notes"]
    for k, c in enumerate(load_catalogue()):
        for e in engines:
            for check in ("jvp", "vjp", "transpose"):
                bad = (k + len(e) + len(check)) % 10 == 0
                recs.append(record(c.id, e, check, "subject-defect" if bad else "agree",
                                   section=c.section, _printed=c.printed,
                                   detail="x" * 400 if bad else "",
                                   values={"got": [0.1] * 8, "reference": [0.2] * 8}))
    res = results(recs)
    for r in recs:
        res["claims"][r["claim"]]["printed"] = r["_printed"]
    out = write_report(res, tmp_path / "index.html")
    assert out.stat().st_size < 2 * 1024 * 1024, out.stat().st_size


def test_findings_lead_with_both_numbers_and_baselined_errata_are_marked():
    recs = SAMPLE + [record("c-four", "notes", "notes-jvp", "notes-erratum", baselined=True,
                            values={"got": [-2.6], "reference": [0.56]})]
    recs[2] = dict(recs[2], values={"got": [-6.0], "reference": [6.0]})
    res = results(recs)
    res["extras"] = {"readings": {"places": [{"section": "Sec A", "text": "J_{f, ii} =",
                                              "problem": "incomplete", "reading": "nothing",
                                              "claims": ["c-one"]}], "unchecked": []}}
    page = render(res)
    findings = page[page.index('id="findings"'):page.index('id="matrix-table"')]
    assert findings.index("subject-defect") < findings.index("notes-erratum")
    assert "c-two</code></a>, ourad-reverse, vjp: got -6, want 6" in findings
    assert "c-four</code></a>, notes, notes-jvp: got -2.6, want 0.56" in findings
    assert findings.count("(known erratum, baselined)") == 1
    assert "How the notes were read" in findings and "J_{f, ii} =" in findings
    matrix = page[page.index('id="matrix-table"'):page.index("</table>",
                                                               page.index('id="matrix-table"'))]
    assert matrix.count("(baselined)") == 1


def test_rendering_leaves_the_result_as_it_was():
    """The writer derives what the page shows; results.json must not change by rendering."""
    import copy
    res = results(SAMPLE)
    res["extras"] = {"trace": {"point": [1.5, 0.5], "seed": [1.0, 0.0], "reference": "referee",
                               "computed_by": {"forward": "x", "adjoint": "x"},
                               "forward": [], "printed_partial": "3.012",
                               "adjoint": [{"k": 1, "name": "v_1", "expression": "a / b",
                                            "computed_adjoint": 1.0,
                                            "reference_adjoint": 1.0}]}}
    before = copy.deepcopy(res)
    render(res)
    assert res == before


def test_the_scorecard_counts_no_verdict_as_no_verdict_not_as_wrong():
    """A correct engine without hvp, on a linear op whose Taylor test has no rate to measure,
    is right; a defect anywhere is wrong; a primitive with no verdict at all is neither."""
    from oracles.verdict import PRIMITIVES
    from reports.writer import scorecard
    recs = [record("op-add", "ourad-reverse", "jvp", "agree", section=PRIMITIVES),
            record("op-add", "ourad-reverse", "taylor", "inconclusive", section=PRIMITIVES),
            record("op-add", "ourad-reverse", "hvp", "unsupported", section=PRIMITIVES),
            record("op-sin", "ourad-reverse", "jvp", "agree", section=PRIMITIVES),
            record("op-sin", "ourad-reverse", "vjp", "subject-defect", section=PRIMITIVES),
            record("op-max", "ourad-reverse", "jvp", "unsupported", section=PRIMITIVES)]
    sc = scorecard(results(recs))
    assert {r["op"]: (r["ok"], r["wrong"]) for r in sc["rows"]} == {
        "add": (True, False), "sin": (False, True), "max": (False, False)}
    assert (sc["passed"], sc["wrong"], sc["unverified"]) == (1, 1, 1)
    page = render(results(recs))
    assert "1 of 3 primitives right in every check of the subject that gave a verdict" in page
    assert "1 wrong, 1 with no verdict at all" in page
