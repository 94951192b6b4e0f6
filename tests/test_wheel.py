"""Installed from a wheel, not an editable checkout: the wheel is built, installed into a fresh
virtual environment (which sees this machine's jax, torch and autograd, not this checkout), and
`ad-conformance` is run from a directory outside the repository, on ourad and on a
third-party engine (`my_engine.py`, the autograd adapter, beside the user). The claims and the
verdicts are those of the in-repository run. About 40 s; it runs in the default suite."""
import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARGS = ["-q", "-p", "no:cacheprovider", "-W", "ignore::DeprecationWarning",
        "--ad-oracles", "referee,fd", "--ad-examples", "2"]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    base = tmp_path_factory.mktemp("wheel")
    dist = base / "dist"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", *_isolation(),
                            "-q", "-w", str(dist), str(ROOT)],
                           capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stdout + build.stderr
    wheel = next(dist.glob("ourad_harness-*.whl"))
    env_dir = base / "venv"
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(env_dir)
    py = env_dir / "bin" / "python"
    inst = subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "-q",
                           "--no-deps", str(wheel)], capture_output=True, text=True, timeout=300)
    assert inst.returncode == 0, inst.stdout + inst.stderr
    return base, env_dir, wheel


def _isolation():
    """Build with this environment's setuptools when it can make wheels by itself (70.1 and
    later); otherwise let pip fetch a build environment."""
    try:
        import setuptools
        major, minor = (int(x) for x in setuptools.__version__.split(".")[:2])
        return ["--no-build-isolation"] if (major, minor) >= (70, 1) else []
    except (ImportError, ValueError):
        return []


def _clean_env():
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    return env


def test_the_wheel_holds_the_catalogue_and_the_entry_points(installed):
    import zipfile
    _, _, wheel = installed
    names = zipfile.ZipFile(wheel).namelist()
    for must in ("oracles/catalogue/autodiff-notes.md", "oracles/catalogue/errata.toml",
                 "oracles/catalogue/test_conformance.py", "oracles/catalogue/sec_5_relu.py",
                 "reports/template.html.j2"):
        assert must in names, must
    assert not [n for n in names if n.startswith(("tests/", "reports/latest/"))]
    meta = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(meta).decode()
    assert "ad-conformance = oracles.cli:main" in text and "ad_harness = oracles.plugin" in text


def test_the_installed_package_is_the_wheel_not_the_checkout(installed, tmp_path):
    _, env_dir, _ = installed
    p = subprocess.run([str(env_dir / "bin" / "python"), "-c",
                        "import oracles, ourad, reports; print(oracles.__file__); "
                        "print(ourad.__file__); print(reports.__file__)"],
                       cwd=tmp_path, capture_output=True, text=True, env=_clean_env())
    assert p.returncode == 0, p.stderr
    for line in p.stdout.split():
        assert str(env_dir) in line and str(ROOT) not in line, p.stdout


def _keys(res, engines=None):
    return sorted((r["claim"], r["engine"], r["check"], r["category"]) for r in res["records"]
                  if engines is None or r["engine"] in engines)


def _in_repo(tmp_path, *extra, path=None):
    env = dict(os.environ)
    if path:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(path), env.get("PYTHONPATH")]))
    p = subprocess.run([sys.executable, "-m", "pytest", "tests/notes", *ARGS, "--ad-report-dir",
                        str(tmp_path / "repo-rep"), *extra], cwd=ROOT, capture_output=True,
                       text=True, timeout=600, env=env)
    return p.returncode, json.loads((tmp_path / "repo-rep" / "results.json").read_text())


@pytest.mark.parametrize("subject", [None, "my_engine:AutogradEngine"])
def test_ad_conformance_from_the_wheel_gives_the_in_repository_verdicts(installed, tmp_path,
                                                                       subject):
    _, env_dir, _ = installed
    user = tmp_path / "user"
    user.mkdir()
    extra = []
    if subject:
        shutil.copy(ROOT / "examples" / "autograd_engine.py", user / "my_engine.py")
        extra = ["--ad-subject", subject]
    p = subprocess.run([str(env_dir / "bin" / "ad-conformance"), *ARGS, *extra], cwd=user,
                       capture_output=True, text=True, timeout=600, env=_clean_env())
    out = p.stdout + p.stderr
    assert p.returncode == 0, out
    assert (user / "ad-report" / "index.html").is_file(), out
    wheel_res = json.loads((user / "ad-report" / "results.json").read_text())
    assert wheel_res["summary"]["claims_run"] >= 68
    code, repo_res = _in_repo(tmp_path, *extra, path=user if subject else None)
    assert code == 0
    assert _keys(wheel_res) == _keys(repo_res)
    assert wheel_res["summary"]["counts"] == repo_res["summary"]["counts"]
    if subject:
        unsupported = [r for r in wheel_res["records"]
                       if r["subject"] and r["category"] == "unsupported"]
        assert not unsupported, unsupported[:3]
