"""Checks of the built book (run by `make test` after `make book`; not collected by `pytest tests`).

Every chapter in _toc.yml has a page; every figure a chapter makes is embedded; no glue key is
left unresolved and no {eval} role raw; no page loads a script from a CDN or widget JavaScript;
the build log recorded no warning. ``$GUTMETA_HTML`` points the checks at another build.
The pages as a browser shows them: tests/browser/pages_check.py.
"""
import os
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
HTML = Path(os.environ.get("GUTMETA_HTML", ROOT / "_build" / "html"))
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))


def _toc_files():
    return re.findall(r"(?:root|file):\s*(\S+)", (ROOT / "_toc.yml").read_text())


def test_every_toc_entry_has_a_page():
    files = _toc_files()
    assert len(files) >= 10
    for f in files:
        assert (HTML / f"{f}.html").exists(), f


@pytest.mark.parametrize("nb_path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_page(nb_path):
    page = (HTML / "chapters" / f"{nb_path.stem}.html").read_text(encoding="utf-8")
    nb = nbformat.read(nb_path, as_version=4)
    # every figure the notebook produced is in the page
    n_png = sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code"
                for o in c.get("outputs", []) if "remove-output" not in c.metadata.get("tags", []))
    assert page.count("<img") >= n_png, (nb_path.stem, n_png)
    # glue: every key used in Markdown was glued by the notebook, and no role is left unrendered
    used, glued = set(), set()
    for c in nb.cells:
        if c.cell_type == "markdown":
            used |= set(re.findall(r"\{glue:text\}`([^`:]+)", c.source))
        for o in c.get("outputs", []):
            name = o.get("metadata", {}).get("scrapbook", {}).get("name")
            if name:
                glued.add(name)
    assert used <= glued, (nb_path.stem, used - glued)
    assert "glue:text" not in page and "{eval}" not in re.sub(r"<(pre|code)[^>]*>.*?</\\1>", "", page, flags=re.S)
    # no execution error rendered
    assert "Traceback" not in page


def test_intro_numbers_are_rendered():
    page = (HTML / "chapters" / "intro.html").read_text(encoding="utf-8")
    text = re.sub(r"<[^>]+>", "", page)
    assert "\u22121.76" in text  # Moshfeghinia et al.'s SMD, glued from data/published_results.csv


def test_binder_launch_button():
    page = (HTML / "chapters" / "pooling.html").read_text(encoding="utf-8")
    assert "mybinder.org/v2/gh/" in page


def test_build_log_has_no_warnings():
    log = ROOT / "_build" / "build.log"
    if not log.exists():
        pytest.skip("no build log (the book was built without `make book`)")
    text = log.read_text(errors="replace")
    assert "WARNING" not in text.replace("[IPKernelApp] WARNING", ""), \
        [line for line in text.splitlines() if "WARNING" in line][:5]


@pytest.mark.parametrize("nb_path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_static_page_loads_nothing_from_a_cdn(nb_path):
    """No widget JavaScript (require.js, @jupyter-widgets/html-manager) and no CDN script in a
    static page; MathJax is the local copy from sphinx-mathjax-offline."""
    page = (HTML / "chapters" / f"{nb_path.stem}.html").read_text(encoding="utf-8")
    srcs = re.findall(r'<script[^>]*\bsrc="([^"]+)"', page)
    remote = [s for s in srcs if s.startswith(("http:", "https:", "//"))]
    assert not remote, (nb_path.stem, remote)
    assert not [s for s in srcs if "require" in s or "html-manager" in s or "embed-amd" in s]
    if 'class="math' in page:                       # Sphinx adds MathJax only to pages with maths
        assert any(s.endswith("_static/mathjax/tex-chtml.js") for s in srcs), srcs
