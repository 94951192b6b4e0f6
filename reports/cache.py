"""Rendered pictures kept on disk between runs: the formulas (mathtext's SVG) and the plots
(matplotlib's SVG), each in a file named by a hash of matplotlib's version and everything the
picture is drawn from, so an entry is only ever the same picture again. Together they took
more than half of the page's time.

Where: `$AD_MATH_CACHE`, else `$XDG_CACHE_HOME/ourad-harness/mathtext`
(`~/.cache/ourad-harness/mathtext`); set empty, or a directory that cannot be created, it is
off and every picture is drawn. An entry that cannot be written only leaves that picture
uncached. The page's template, compiled, is kept there too (`jinja/`, Jinja2's bytecode
cache, checked against the template's text, Jinja2's version and `reports/writer.py`)."""
from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import os
from pathlib import Path
from typing import Callable


def cache_dir() -> Path | None:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = os.environ.get("AD_MATH_CACHE", os.path.join(base, "ourad-harness", "mathtext"))
    if not path:
        return None
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:
        return None
    return Path(path)


@functools.lru_cache(maxsize=1)
def matplotlib_version() -> str | None:
    """matplotlib's version, part of every entry's name, read from its installed metadata:
    importing matplotlib for it took 0.13 s of a page whose pictures were all in the cache.
    Where the metadata is not that of the matplotlib that imports (none, or another copy
    first on the path), from matplotlib itself; None where it is not installed."""
    try:
        spec = importlib.util.find_spec("matplotlib")
        dist = importlib.metadata.distribution("matplotlib")
        if spec is not None and spec.origin and os.path.samefile(
                spec.origin, dist.locate_file("matplotlib/__init__.py")):
            return dist.version
    except (importlib.metadata.PackageNotFoundError, ImportError, ValueError, OSError):
        pass
    try:
        import matplotlib
    except ImportError:
        return None
    return matplotlib.__version__


@functools.lru_cache(maxsize=None)
def file_hash(path: str) -> str:
    """The hash of a source file's text, part of the names of what it draws or compiles: a
    change to the code is a new entry."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def entry(source: str, version: str, kind: str = "") -> Path | None:
    """The file of one picture: `kind` (empty for a formula) and a hash of matplotlib's
    version and the picture's source."""
    d = cache_dir()
    key = hashlib.sha256(f"{version}\n{source}".encode()).hexdigest()
    return d / f"{kind}{key}.svg" if d is not None else None


def read(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None


def store(path: Path | None, svg: str):
    """Write one entry atomically (a temporary name, then a rename). An empty entry records
    a picture that cannot be drawn (a formula mathtext cannot parse)."""
    if path is None:
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(svg, encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass


def cached(kind: str, source: str, version: str, draw: Callable[[], str | None]) -> str | None:
    """The picture drawn from `source`: the cache's entry, else `draw()`, then kept (None,
    nothing drawn, is not kept)."""
    path = entry(source, version, kind)
    svg = read(path)
    if svg is None:
        svg = draw()
        if svg is not None:
            store(path, svg)
    return svg
