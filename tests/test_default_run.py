"""The default run's verdicts, record by record, against the snapshot committed beside this
file (tests/snapshots/default-run.json): a restructuring must not change a verdict silently.
A change that is meant is made by regenerating the snapshot,

    python tests/test_default_run.py --update

and explained in the commit that changes it (which records moved, from what to what, why).
The snapshot holds (claim, engine, check) -> category for every record of
`pytest tests/notes` with the default options."""
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT = Path(__file__).resolve().parent / "snapshots" / "default-run.json"


def default_run(report_dir) -> dict:
    p = subprocess.run([sys.executable, "-m", "pytest", "tests/notes", "-q",
                        "-p", "no:cacheprovider", "-W", "ignore::DeprecationWarning",
                        "--ad-report-dir", str(report_dir)], cwd=ROOT, capture_output=True,
                       text=True, timeout=900, env=dict(os.environ))
    res = json.loads((Path(report_dir) / "results.json").read_text())
    res["_exit"], res["_out"] = p.returncode, p.stdout[-3000:] + p.stderr[-3000:]
    return res


def verdicts(res) -> dict:
    return {f"{r['claim']} | {r['engine']} | {r['check']}"
            + ("" if r.get("dtype", "float64") == "float64" else f" | {r['dtype']}"):
            r["category"] for r in res["records"]}


def test_the_default_run_gives_the_snapshots_verdicts(tmp_path):
    res = default_run(tmp_path / "rep")
    assert res["_exit"] == 0, res["_out"]
    now, then = verdicts(res), json.loads(SNAPSHOT.read_text())["verdicts"]
    moved = {k: f"{then[k]} -> {now[k]}" for k in then.keys() & now.keys() if then[k] != now[k]}
    gone = sorted(then.keys() - now.keys())
    new = sorted(now.keys() - then.keys())
    by_category_then = Counter(then.values())
    by_category_now = Counter(now.values())
    assert not (moved or gone or new), (
        f"verdicts changed: {len(moved)} moved, {len(gone)} gone, {len(new)} new\n"
        f"moved: {moved}\ngone: {gone[:20]}\nnew: {new[:20]}\n"
        f"per category then {dict(by_category_then)}, now {dict(by_category_now)}\n"
        "if meant: python tests/test_default_run.py --update, and say why in the commit")


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        raise SystemExit(__doc__)
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        res = default_run(Path(d) / "rep")
    if res["_exit"] != 0:
        raise SystemExit(res["_out"])
    SNAPSHOT.parent.mkdir(exist_ok=True)
    SNAPSHOT.write_text(json.dumps({"counts": res["summary"]["counts"],
                                    "verdicts": dict(sorted(verdicts(res).items()))},
                                   indent=1) + "\n")
    print(f"wrote {SNAPSHOT}: {res['summary']['counts']}")
