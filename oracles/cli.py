"""`ad-conformance`: the conformance run over the installed catalogue, from any directory.

    ad-conformance --ad-subject my_engine:Engine [-n 2] [-k relu] [-q] [-x] [--ad-...]

It runs pytest on the catalogue's test module with the arguments given (the `--ad-*` options
and pytest's own) and exits with pytest's status: 0 the gate passed, 1 it failed, 4 a usage
error. The working directory is put on sys.path, so `my_engine.py` beside you imports.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path


def main(argv=None) -> int:
    import pytest

    from .catalogue import HERE
    argv = list(sys.argv[1:] if argv is None else argv)
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    os.environ["PYTHONPATH"] = os.pathsep.join(   # xdist's workers import the subject too
        filter(None, [cwd, os.environ.get("PYTHONPATH")]))
    os.environ["AD_CONFORMANCE"] = "1"
    args = [str(Path(HERE) / "test_conformance.py"), "-c", str(Path(HERE) / "pytest.ini"),
            "--rootdir", cwd, "-p", "no:cacheprovider", *argv]
    return int(pytest.main(args))


if __name__ == "__main__":
    raise SystemExit(main())
