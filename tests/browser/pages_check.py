"""Every built page, opened in a headless Chromium with no network (issue 11).

Run by ``make test`` after the book is built (``pytest tests/browser``); not collected by
``pytest tests`` (the file name does not start with ``test_``). Serves ``_build/html`` (or
``$GUTMETA_HTML``) on 127.0.0.1 and, for each page, checks what a reader would see:

* every ``<img>`` loaded (``naturalWidth > 0``);
* no table cell reads "nan"/"NaN";
* no raw MyST role in the text outside code (``{glue``, ``{cite``, ``{eval``, ``{numref``, ``{doc``);
* no ``NBVAL`` marker anywhere in the page, hidden code included (use the cell tag
  ``nbval-ignore-output`` instead of a ``# NBVAL_IGNORE_OUTPUT`` comment);
* every citation resolved: no ``??``, no docutils "problematic" node, no empty citation (what
  sphinxcontrib-bibtex renders for an unknown key: ``[]``), and every in-site link with an anchor
  lands on an existing one;
* every maths element typeset by the bundled MathJax, and every interactive table drawn by its
  bundled JavaScript (no "Loading ITables" left);
* nothing requested from another host, and no error on the browser console.
"""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _browser import ROOT, SETTLE_PRELUDE, chromium, missing_browser, serve  # noqa: E402

HTML = Path(os.environ.get("GUTMETA_HTML", ROOT / "_build" / "html"))
SKIP = {"genindex.html", "search.html", "index.html"}  # Sphinx's own pages; index.html redirects
PAGES = sorted(p.relative_to(HTML).as_posix() for p in HTML.rglob("*.html")
               if p.name not in SKIP and not p.relative_to(HTML).parts[0].startswith("_")) if HTML.exists() else []
RAW_ROLES = ("{glue", "{cite", "{eval", "{numref", "{doc}", "{ref}")
# console messages that say nothing about the book: a missing favicon; and Jupyter Book 1.0.4 with
# sphinx-thebe 0.3.1 writing its (unused: thebe is off) config script twice into every page, so the
# second `const THEBE_JS_URL` throws. Nothing on the page depends on it.
# The theme also logs "Got invalid theme mode" once for a fresh profile (no stored light/dark choice).
BENIGN_CONSOLE = ("favicon.ico", "Identifier 'THEBE_JS_URL' has already been declared",
                  "Got invalid theme mode")

pytestmark = [pytest.mark.skipif(missing_browser() is not None and not os.environ.get("CI"),
                                reason=str(missing_browser())),
              pytest.mark.skipif(not PAGES, reason=f"no built book in {HTML}: run `make book` first")]


@pytest.fixture(scope="module")
def site():
    with serve(HTML) as base, chromium() as driver:
        yield base, driver


_ids_cache: dict[str, set] = {}


def _ids(page: str) -> set:
    if page not in _ids_cache:
        text = (HTML / page).read_text(encoding="utf-8")
        _ids_cache[page] = set(re.findall(r'\bid="([^"]+)"', text))
    return _ids_cache[page]


COLLECT = SETTLE_PRELUDE + r"""
  const cells = Array.from(document.querySelectorAll('td, th')).map(c => c.textContent.trim());
  const maths = Array.from(document.querySelectorAll('.math'));
  const prose = document.body.cloneNode(true);           // the text outside code, scripts and styles
  prose.querySelectorAll('pre, code, script, style, .cell_input').forEach(e => e.remove());
  done({
    badImages: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute('src')),
    nImages: imgs.length,
    nanCells: cells.filter(t => /\bnan\b/i.test(t)),
    visible: document.body.innerText,
    prose: prose.textContent,
    all: document.body.textContent,
    problematic: document.querySelectorAll('.problematic').length,
    // sphinxcontrib-bibtex renders an unknown key as an empty citation: "[]" with no link
    emptyCites: Array.from(document.querySelectorAll('.bibtex-citation'))
      .filter(c => !c.querySelector('a[href]') || c.textContent.replace(/[\[\]\s;,]/g, '') === '').length,
    nCites: document.querySelectorAll('.bibtex-citation').length,
    rawMaths: maths.filter(m => !m.querySelector('mjx-container')).map(m => m.textContent.slice(0, 60)),
    nMaths: maths.length,
    itablesLoading: document.body.innerText.includes('Loading ITables'),
    external: performance.getEntriesByType('resource').map(e => e.name)
      .filter(n => !n.startsWith(location.origin) && !n.startsWith('data:') && !n.startsWith('blob:')),
    links: Array.from(document.querySelectorAll('a[href]')).map(a => a.getAttribute('href')),
    headScripts: Array.from(document.head.querySelectorAll('script[src]')).map(s => s.getAttribute('src')),
  });
})();
"""


@pytest.mark.parametrize("page", PAGES)
def test_page_as_a_reader_sees_it(site, page):
    base, driver = site
    driver.get_log("browser")                                   # drop messages of earlier pages
    driver.get(f"{base}/{page}")
    driver.set_script_timeout(30)
    r = driver.execute_async_script(COLLECT)
    problems = []
    if r["badImages"]:
        problems.append(f"images that did not load: {r['badImages']}")
    if r["nanCells"]:
        problems.append(f"table cells reading nan: {r['nanCells'][:5]}")
    raw = [role for role in RAW_ROLES if role in r["prose"]]
    if raw:
        problems.append(f"raw MyST roles in the text: {raw}")
    if "NBVAL" in r["all"]:
        problems.append("an NBVAL marker is in the page (use the cell tag nbval-ignore-output)")
    if r["problematic"] or "??" in r["visible"]:
        problems.append(f"unresolved references: {r['problematic']} problematic node(s), "
                        f"'??' in text: {'??' in r['visible']}")
    if r["emptyCites"]:
        problems.append(f"{r['emptyCites']} of {r['nCites']} citations unresolved (empty '[]')")
    here = page
    for href in r["links"]:
        if "#" not in href or href.startswith(("http:", "https:", "mailto:")):
            continue
        target, anchor = href.split("#", 1)
        if not anchor:
            continue
        target_page = os.path.normpath(os.path.join(os.path.dirname(here), target)) if target else here
        if (HTML / target_page).exists() and anchor not in _ids(target_page):
            problems.append(f"link to a missing anchor: {href}")
    if r["rawMaths"]:
        problems.append(f"maths not typeset (MathJax offline?): {r['rawMaths'][:3]}")
    if r["itablesLoading"]:
        problems.append("an interactive table never loaded its JavaScript")
    if r["external"]:
        problems.append(f"requests to other hosts: {sorted(set(r['external']))[:5]}")
    widget_js = [s for s in r["headScripts"] if "require" in s or "html-manager" in s or "embed-amd" in s]
    if widget_js:
        problems.append(f"widget JavaScript in the head: {widget_js}")
    console = [e["message"] for e in driver.get_log("browser")
               if e["level"] == "SEVERE" and not any(b in e["message"] for b in BENIGN_CONSOLE)]
    if console:
        problems.append(f"console errors: {console[:5]}")
    assert not problems, f"{page}:\n  " + "\n  ".join(problems)
