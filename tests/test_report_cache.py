"""The picture cache (`reports.cache`): formulas and plots drawn once and read back, the same
data the same picture, other data another, and a cache that cannot be used changes nothing
but the time."""
import os
import subprocess
import sys

import pytest

pytest.importorskip("matplotlib")

from reports import cache, plots  # noqa: E402
from reports.writer import render_math  # noqa: E402

FD = {"function": "sin at 1", "curves": [
    {"dtype": "float64", "method": "central", "steps": [1e-1, 1e-2, 1e-3, 1e-4, 1e-5],
     "errors": [1e-3, 1e-5, 1e-7, 1e-9, 1e-8], "chosen_step": 1e-4, "chosen_error": 1e-9}]}
TAYLOR = [("ourad", [0.1, 0.05, 0.025], [1e-2, 2.5e-3, 6.25e-4])]


def _entries(d, prefix="plot-"):
    return sorted(p.name for p in d.iterdir() if p.name.startswith(prefix))


def test_a_plot_is_drawn_once_and_read_back_unchanged(tmp_path, monkeypatch):
    monkeypatch.setenv("AD_MATH_CACHE", str(tmp_path))
    drawn = []
    real = plots._draw_fd
    monkeypatch.setattr(plots, "_draw_fd", lambda data: drawn.append(1) or real(data))
    first = plots.fd_plot(FD)
    assert first.startswith("<svg") and "Finite-difference error" in first
    assert len(_entries(tmp_path)) == 1
    again = plots.fd_plot(FD)
    assert again == first and drawn == [1]        # read back, not drawn again
    other = dict(FD, function="cos at 1")
    assert "cos at 1" in plots.fd_plot(other) and drawn == [1, 1]
    assert len(_entries(tmp_path)) == 2


def test_the_taylor_plot_is_cached_by_its_data_and_title(tmp_path, monkeypatch):
    monkeypatch.setenv("AD_MATH_CACHE", str(tmp_path))
    a = plots.taylor_plot(TAYLOR, "rate 2.00")
    assert plots.taylor_plot(TAYLOR, "rate 2.00") == a
    b = plots.taylor_plot(TAYLOR, "rate 1.00")
    assert b != a and "rate 1.00" in b
    assert len(_entries(tmp_path)) == 2


def test_a_change_to_the_drawing_code_is_a_new_picture(tmp_path, monkeypatch):
    monkeypatch.setenv("AD_MATH_CACHE", str(tmp_path))
    plots.fd_plot(FD)
    monkeypatch.setattr(plots, "file_hash", lambda path: "another version of the drawing code")
    plots.fd_plot(FD)
    assert len(_entries(tmp_path)) == 2


@pytest.mark.parametrize("setting", ["", "unwritable"])
def test_without_a_usable_cache_every_picture_is_drawn(tmp_path, monkeypatch, setting):
    if setting == "unwritable":
        blocker = tmp_path / "file"
        blocker.write_text("")
        setting = str(blocker / "sub")     # cannot be created under a file
    monkeypatch.setenv("AD_MATH_CACHE", setting)
    assert cache.cache_dir() is None
    assert plots.fd_plot(FD).startswith("<svg")
    assert plots.taylor_plot(TAYLOR, "t").startswith("<svg")


def test_a_formula_is_cached_as_before(tmp_path, monkeypatch):
    monkeypatch.setenv("AD_MATH_CACHE", str(tmp_path))
    render_math.cache_clear()
    svg = render_math(r"\dot{v}_6 = \dot{v}_5 v_4")
    assert svg.startswith("<svg")
    assert len(_entries(tmp_path, "")) == 1
    render_math.cache_clear()
    assert render_math(r"\dot{v}_6 = \dot{v}_5 v_4") == svg


def test_a_warm_cache_renders_the_page_without_pyplot(tmp_path):
    """The point of the cache: the page's second rendering draws nothing."""
    code = ("import json, sys\n"
            "from reports.plots import fd_plot, taylor_plot\n"
            f"fd_plot({FD!r}); taylor_plot({TAYLOR!r}, 't')\n"
            "print('matplotlib.pyplot' in sys.modules)\n")
    env = dict(os.environ, AD_MATH_CACHE=str(tmp_path))
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, env=env).stdout.split()[-1] for _ in range(2)]
    assert runs == ["True", "False"]


def test_a_warm_cache_renders_formulas_and_plots_without_matplotlib(tmp_path):
    """The cache's names come from matplotlib's installed metadata, not from importing it:
    a page whose pictures are all cached imports no matplotlib, and finds the entries the
    first process (which imported it) made."""
    code = ("import sys\n"
            "from reports.plots import fd_plot, taylor_plot\n"
            "from reports.writer import render_math\n"
            f"a = fd_plot({FD!r}); b = taylor_plot({TAYLOR!r}, 't')\n"
            "c = render_math(r'\\dot{v}_6 = \\dot{v}_5 v_4')\n"
            "print(hash((str(a), str(b), str(c))), 'matplotlib' in sys.modules)\n")
    env = dict(os.environ, AD_MATH_CACHE=str(tmp_path), PYTHONHASHSEED="0")
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, env=env).stdout.split() for _ in range(2)]
    assert runs[0][1] == "True" and runs[1][1] == "False"
    assert runs[0][0] == runs[1][0]


def test_results_json_is_the_result_one_record_per_line():
    import json
    from oracles.writing import results_json
    result = {"summary": {"gate": "pass", "counts": {"agree": 2}},
              "records": [{"claim": "a", "x": [1.0, float("inf")]}, {"claim": "b", "y": None}],
              "claims": {"a": {"printed": "f"}}, "extras": {}}
    text = results_json(result)
    assert json.loads(text) == json.loads(json.dumps(result))
    lines = text.splitlines()
    assert lines.count(json.dumps(result["records"][0]) + ",") == 1
    assert json.loads(results_json(dict(result, records=[])))["records"] == []


def test_the_pictures_drawn_ahead_are_every_picture_the_page_draws(tmp_path, monkeypatch):
    """`draw_pictures` (what `test_facts` draws beside the claims)
    draws every formula and plot the page of the same claims and extras needs: rendering the
    page afterwards adds nothing to the cache."""
    import json
    from reports.writer import draw_pictures, render
    rep = tmp_path / "rep"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/notes", "-q", "-p", "no:cacheprovider",
         "-k", "fwd-table-tangent-rule or relu-derivative or chain-scalar-sin-exp-tanh",
         "--ad-oracles", "referee,fd", "--ad-report-dir", str(rep)],
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))), capture_output=True,
        text=True, timeout=600, env=dict(os.environ, AD_MATH_CACHE=str(tmp_path / "first")))
    assert run.returncode == 0, run.stdout[-2000:]
    result = json.loads((rep / "results.json").read_text())
    assert result["extras"]["trace"] and result["extras"]["fd_curves"]
    cache_dir = tmp_path / "ahead"
    monkeypatch.setenv("AD_MATH_CACHE", str(cache_dir))
    render_math.cache_clear()
    draw_pictures([c["printed"] for c in result["claims"].values()], result["extras"])
    drawn = sorted(p.name for p in cache_dir.glob("*.svg"))
    assert any(n.startswith("plot-") for n in drawn) and len(drawn) > 10
    render_math.cache_clear()
    render(result)   # (it adds the template's bytecode, jinja/)
    assert sorted(p.name for p in cache_dir.glob("*.svg")) == drawn


def test_a_formula_drawn_after_a_plot_is_the_formula_drawn_alone(tmp_path, monkeypatch):
    """A plot's text setting once stayed set for the process, and formulas drawn after it
    came out otherwise (glyphs as text, not paths), and were cached so."""
    formula = r"\frac{a}{b} + \sqrt{c}"
    monkeypatch.setenv("AD_MATH_CACHE", str(tmp_path / "after"))
    render_math.cache_clear()
    plots.fd_plot(FD)
    after = str(render_math(formula))
    render_math.cache_clear()
    code = f"from reports.writer import render_math\nprint(render_math({formula!r}))\n"
    alone = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, env=dict(os.environ, AD_MATH_CACHE="")).stdout.strip()
    assert "<text" not in after and after.count("<path") == alone.count("<path") > 0


def _template(tmp_path):
    """The page's template through a fresh environment whose bytecode cache is in tmp_path
    (`_env` itself is made once per process)."""
    from reports import writer
    writer._env.cache_clear()
    try:
        return writer._env().get_template("template.html.j2")
    finally:
        writer._env.cache_clear()


def test_the_template_is_compiled_once_per_process_and_kept_in_the_cache(tmp_path, monkeypatch):
    from reports import writer
    monkeypatch.setenv("AD_MATH_CACHE", str(tmp_path))
    writer._env.cache_clear()
    assert writer._env() is writer._env()
    writer._env.cache_clear()
    _template(tmp_path)
    assert len(list((tmp_path / "jinja").iterdir())) == 1


def test_a_template_cache_that_cannot_be_written_is_no_error(tmp_path, monkeypatch):
    """A cache that cannot be written only means the template is compiled again."""
    import jinja2
    from reports import writer
    monkeypatch.setenv("AD_MATH_CACHE", str(tmp_path))

    def refuse(self, bucket):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(jinja2.FileSystemBytecodeCache, "dump_bytecode", refuse)
    assert _template(tmp_path) is not None
    assert not list((tmp_path / "jinja").iterdir())
    (tmp_path / "jinja").rmdir()
    (tmp_path / "jinja").write_text("")          # a file where the directory would be
    assert writer._bytecode_cache() is None


@pytest.mark.parametrize("past_magic", [None, 0, 5, 30, -1])
def test_a_damaged_template_cache_entry_is_compiled_again(tmp_path, monkeypatch, past_magic):
    """An entry cut short (a crash while writing it, a truncated copy) is a cache miss, not an
    error that would cost the page (and, before the page, the records). Cut within Jinja2's
    header, or after it within the checksum (which Jinja2 reads unguarded), or the code."""
    from jinja2.bccache import bc_magic
    monkeypatch.setenv("AD_MATH_CACHE", str(tmp_path))
    _template(tmp_path)
    (entry,) = (tmp_path / "jinja").iterdir()
    whole = entry.read_bytes()
    cut = 3 if past_magic is None else len(bc_magic) + past_magic if past_magic >= 0 \
        else len(whole) // 2
    entry.write_bytes(whole[:cut])
    assert _template(tmp_path).render is not None
    assert entry.read_bytes() == whole          # compiled again, and kept again


def test_the_template_cache_is_keyed_by_the_writer_as_well(tmp_path, monkeypatch):
    """A compiled template is checked against the writer's text (its filters and settings)
    and Jinja2's version, not the template's text alone."""
    from reports import writer
    monkeypatch.setenv("AD_MATH_CACHE", str(tmp_path))
    _template(tmp_path)
    monkeypatch.setattr(writer, "file_hash", lambda path: "another writer")
    _template(tmp_path)
    (entry,) = (tmp_path / "jinja").iterdir()     # one entry per template: rewritten
    cache = writer._BytecodeCache(str(tmp_path / "jinja"))
    src = (writer.HERE / "template.html.j2").read_text()
    bucket = jinja2_bucket(cache, src)
    assert bucket.code is not None                # the entry is the one for "another writer"
    monkeypatch.undo()
    monkeypatch.setenv("AD_MATH_CACHE", str(tmp_path))
    assert jinja2_bucket(writer._BytecodeCache(str(tmp_path / "jinja")), src).code is None


def jinja2_bucket(cache, source):
    import jinja2
    from reports import writer
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(writer.HERE)))
    return cache.get_bucket(env, "template.html.j2", str(writer.HERE / "template.html.j2"),
                            source)


def test_the_matplotlib_that_imports_names_the_pictures(tmp_path):
    """Another matplotlib first on the path (a source checkout) is the one whose version
    names the cache's entries, not the installed copy's metadata."""
    fake = tmp_path / "path" / "matplotlib"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("__version__ = '0.0.0.dev-other'\n")
    code = "from reports.cache import matplotlib_version\nprint(matplotlib_version())\n"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(tmp_path / "path"), os.environ.get("PYTHONPATH", "")]))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=env, cwd=os.path.dirname(os.path.dirname(
                             os.path.abspath(__file__)))).stdout.strip()
    assert out == "0.0.0.dev-other"
