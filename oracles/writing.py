"""Writing the report directory as a unit: results.json and index.html are written into a
fresh directory beside the target, which then takes the target's place in one step (Linux's
renameat2 RENAME_EXCHANGE; elsewhere two renames). No reader ever sees a new results.json
beside an old index.html; concurrent runs never share a temporary name; a failure leaves the
previous report as it was."""
from __future__ import annotations

import ctypes
import errno
import json
import os
import shutil
import tempfile
from pathlib import Path

from .verdict import RECORDS_SO_FAR, unfinished_page

REPORT_FILES = ("results.json", "index.html")


class ReportWriteError(OSError):
    """The report could not be written: the message names the path and the reason."""


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths; False where the system cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    AT_FDCWD, RENAME_EXCHANGE = -100, 2
    if fn(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOENT,):
        raise FileNotFoundError(err, os.strerror(err), str(b))
    if err in (errno.EINVAL, errno.ENOSYS, errno.EXDEV):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _swap_into_place(tmp: Path, target: Path):
    for _ in range(20):
        try:
            if _exchange(tmp, target):
                shutil.rmtree(tmp, ignore_errors=True)    # now the old report
                return
        except FileNotFoundError:
            try:
                os.rename(tmp, target)      # no report yet
                return
            except OSError:
                continue                    # another run got there first: exchange again
        else:                               # no atomic exchange here: two renames
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            try:
                os.rename(target, old)
            except FileNotFoundError:
                old = None
            os.rename(tmp, target)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
            return
    raise OSError(f"could not move {tmp} into place")


def check_report_dir(target) -> None:
    """Raise ReportWriteError (the reason, in a few words) unless a report can be written to
    `target`: it does not exist or is a directory other than a mount point, and a directory
    can be made in its nearest existing ancestor, as the writer makes its fresh one (and the
    missing parents, if any). Tried by making an empty directory there and removing it:
    nothing is left behind."""
    target = Path(target).absolute()
    if os.path.ismount(target):
        raise ReportWriteError(f"{target} is a mount point, which cannot be replaced")
    here = target
    while not here.is_dir():
        if os.path.lexists(here):
            kind = "a file" if here.is_file() else "a broken link" if here.is_symlink() \
                else "not a directory"
            raise ReportWriteError(f"not a directory: {here} is {kind}")
        here = here.parent
    base = target.parent if here == target else here
    try:
        os.rmdir(tempfile.mkdtemp(prefix=f".{target.name}.", dir=base))
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if exc.errno == errno.ENOENT:       # /proc: the directory exists, new ones cannot
            reason = f"the file system allows no new directory there ({reason})"
        raise ReportWriteError(f"cannot make a directory in {base}: {reason}") from None


def results_json(result: dict) -> str:
    """results.json's text: one record per line, the rest indented. Made by json's C encoder
    (which indenting the records would forgo: 0.07 s against 0.03 s for the default run's
    2,300 records); read back it is the same object."""
    parts = []
    for key, value in result.items():
        if key == "records" and isinstance(value, list) and value:
            body = "[\n" + ",\n".join(json.dumps(r, default=str) for r in value) + "\n]"
        else:
            body = json.dumps(value, indent=1, default=str)
        parts.append(f"{json.dumps(str(key))}: {body}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def write_report_dir(target, result: dict, previous: dict | None = None) -> Path:
    """Render and write the run's report to `target` (a directory). A missing report
    dependency, or a page that fails to render, writes results.json alone and says so in
    `result["summary"]["report_error"]`;
    any failure to write raises ReportWriteError and leaves the old report intact."""
    html = None
    try:
        from reports import render
        html = render(result, previous)
    except ImportError as exc:
        result["summary"]["report_error"] = (
            f"the HTML report was not written: {exc.name or exc} is not installed "
            "(pip install 'ourad-harness[report]')")
    except Exception as exc:  # noqa: BLE001 -- a page that fails must not cost the records
        result["summary"]["report_error"] = (
            f"the HTML report was not written: {type(exc).__name__}: {exc}")
    files = {"results.json": results_json(result)}
    if html is not None:
        files["index.html"] = html
    return _write_files(target, files)


def write_unfinished(target, summary: dict):
    """The report of a run that has started and not finished: results.json with no record
    and a failing gate, a page saying so (`verdict.unfinished_page`), and an empty
    RECORDS_SO_FAR that the run appends each claim's records to (`append_records`). The
    finished run's report replaces all three; a run whose process dies first (an engine's
    crash, a kill, a time limit) leaves them, so the directory never shows the previous
    run's verdict beside this run's exit status. Returns RECORDS_SO_FAR opened for
    appending, opened before the directory took its place: another run that replaces the
    directory meanwhile never receives this run's records."""
    result = {"summary": summary, "records": [], "claims": {}, "extras": {}}
    return _write_files(target, {"results.json": results_json(result),
                                 "index.html": unfinished_page(summary),
                                 RECORDS_SO_FAR: ""}, keep_open=RECORDS_SO_FAR)


def append_records(fh, records: list) -> None:
    """Append records, one JSON object per line, to the file `write_unfinished` returned;
    raises OSError where it cannot."""
    fh.write("".join(json.dumps(r, default=str) + "\n" for r in records))
    fh.flush()


def _write_files(target, files: dict, keep_open: str | None = None):
    """Write `files` (name -> text) as the directory `target`, in one step (see the module),
    keeping what else lives there (screenshots, ...) but an unfinished run's records; raises
    ReportWriteError naming the path and the reason, the old directory left as it was.
    Returns `target`, or with `keep_open` that file opened for appending."""
    target = Path(target).absolute()
    tmp = fh = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        if target.is_dir():                 # keep what else lives there (screenshots, ...)
            for entry in target.iterdir():
                if entry.name not in REPORT_FILES and entry.name != RECORDS_SO_FAR and \
                        not entry.name.startswith("."):
                    dst = tmp / entry.name
                    (shutil.copytree if entry.is_dir() else shutil.copy2)(entry, dst)
        elif target.exists():
            raise NotADirectoryError(errno.ENOTDIR, "exists and is not a directory")
        for name, text in files.items():
            (tmp / name).write_text(text, encoding="utf-8")
        if keep_open is not None:
            fh = open(tmp / keep_open, "a", encoding="utf-8")   # the file, wherever it goes
        os.chmod(tmp, 0o755)
        _swap_into_place(tmp, target)
    except OSError as exc:
        if fh is not None:
            fh.close()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        reason = exc.strerror or str(exc)
        raise ReportWriteError(f"cannot write the report to {target}: {reason}") from None
    return fh if keep_open is not None else target
