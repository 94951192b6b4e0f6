"""The names a subject's `xp` must provide are the ones the README lists, computed from what
the catalogue looks up (oracles.namespace.catalogue_names), and they are enough: ourad behind
a namespace holding those names and nothing else runs the whole catalogue with no
`unsupported` check; with one of them taken away, it does not."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from oracles.namespace import DEFINED, catalogue_names

ROOT = Path(__file__).resolve().parent.parent

ENGINE = '''
import ourad
from oracles.ourad_engines import OuradReverse


class Only:
    """ourad's namespace cut down to the names given."""
    def __init__(self, names):
        self._names = set(names)

    def __getattr__(self, name):
        if name not in self._names:
            raise AttributeError(f"restricted namespace: no {name!r}")
        return getattr(ourad.xp, name)


class Restricted(OuradReverse):
    name = "restricted"
    xp = Only({names!r})

    def vjp(self, f, primals, cotangent):
        return super().vjp(lambda xp, *a: f(self.xp, *a), primals, cotangent)
'''


def test_the_readme_lists_the_names_the_catalogue_uses():
    required, optional = catalogue_names()
    readme = (ROOT / "README.md").read_text()
    listed = re.search(r"<!-- names:begin -->(.*?)<!-- names:end -->", readme, re.S)
    assert listed, "README has no generated list of names"
    text = " ".join(listed.group(1).split())
    assert f"required: {', '.join(required)}" in text, (text, required)
    assert f"optional: {', '.join(optional)}" in text, (text, optional)
    assert set(optional) <= set(DEFINED)


def _run(tmp_path, names):
    (tmp_path / "restricted_engine.py").write_text(ENGINE.replace("{names!r}", repr(names)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")])))
    cmd = [sys.executable, "-m", "oracles", "-q", "-p", "no:cacheprovider",
           "-W", "ignore::DeprecationWarning", "--ad-subject", "restricted_engine:Restricted",
           "--ad-oracles", "referee,fd", "--ad-examples", "2", "--ad-report-dir",
           str(tmp_path / "rep")]
    p = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=600, env=env)
    res = json.loads((tmp_path / "rep" / "results.json").read_text())
    return p.returncode, p.stdout + p.stderr, res


def test_the_required_names_are_enough_for_the_whole_catalogue(tmp_path):
    required, _ = catalogue_names()
    code, out, res = _run(tmp_path, required)
    mine = [r for r in res["records"] if r["engine"] == "restricted"]
    assert len({r["claim"] for r in mine}) > 40, out
    unsupported = [(r["claim"], r["check"], r["detail"]) for r in mine
                   if r["category"] == "unsupported"]
    assert not unsupported, unsupported[:5]
    assert code == 0 and res["summary"]["gate"] == "pass", out
    used = {n for r in mine for n in r.get("namespace") or []}
    assert used == set(DEFINED) & used and used, used        # the harness's definitions ran


@pytest.mark.parametrize("missing", ["tanh"])
def test_without_one_of_them_checks_are_unsupported(tmp_path, missing):
    required, _ = catalogue_names()
    code, out, res = _run(tmp_path, [n for n in required if n != missing])
    unsupported = [r for r in res["records"]
                   if r["engine"] == "restricted" and r["category"] == "unsupported"]
    assert unsupported and all(missing in r["detail"] for r in unsupported), unsupported[:3]
