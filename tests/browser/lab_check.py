"""The pooling chapter in a real JupyterLab, driven by a headless Chromium (issue 11).

Run by ``make test`` (``pytest tests/browser``); not collected by ``pytest tests`` (the file name
does not start with ``test_``). Starts JupyterLab from this environment on 127.0.0.1 (a free
port, a random token, no browser of its own, settings and workspaces in a temporary folder) on
*copies* of the notebooks, so nothing in ``chapters/`` is touched; runs every cell through
JupyterLab's own "Run All Cells" command (the Run menu's entry); then works the pooling
explorer as a reader would: picks another tau² estimator in its dropdown and unticks one
trial, and checks that the summary line ("k = ...: pooled g = ...") follows. JupyterLab is
stopped afterwards.

A second test opens a small notebook with MyST roles and checks what jupyterlab-myst renders:
``{eval}`` shows the kernel's value; ``{cite}`` shows no raw role; and that the table helpers of
``gutmeta.display`` render there (the interactive table drawn by its bundled JavaScript).
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _browser import ROOT, chromium, free_port, missing_browser  # noqa: E402

pytestmark = pytest.mark.skipif(missing_browser() is not None and not os.environ.get("CI"),
                                reason=str(missing_browser()))

BIN = Path(sys.executable).parent
SUMMARY_RE = re.compile(r"k = (\d+): pooled g = (\S+)")

MYST_NOTEBOOK = {
    "cells": [
        {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
         "source": "est_text = f'{-0.1234:.2f}'.replace('-', '\\u2212')\np_text = f'{0.0:.3f}'"},
        {"cell_type": "markdown", "metadata": {},
         "source": "Pooled g = {eval}`est_text` with p = {eval}`p_text`; see {cite}`asad2024`."},
        {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
         "source": "import pandas as pd\nfrom gutmeta.display import interactive_table, show_table\n"
                   "frame = pd.DataFrame({'study': [f'Trial {i}' for i in range(30)], 'n': [float(i) for i in range(30)]})\n"
                   "display(show_table(frame.head(3)))\ninteractive_table(frame)"},
    ],
    "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                 "language_info": {"name": "python"}},
    "nbformat": 4, "nbformat_minor": 5,
}


def _wait(predicate, timeout, what, interval=0.25):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture(scope="module")
def lab():
    """A JupyterLab server on copies of the chapters; yields (base URL, token)."""
    tmp = Path(tempfile.mkdtemp(prefix="gm-lab-"))
    work = tmp / "work"
    (work / "chapters").mkdir(parents=True)
    shutil.copy(ROOT / "chapters" / "pooling.ipynb", work / "chapters" / "pooling.ipynb")
    (work / "myst_check.ipynb").write_text(json.dumps(MYST_NOTEBOOK))
    port, token = free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp / "config"), "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
           "JUPYTERLAB_SETTINGS_DIR": str(tmp / "settings"), "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "ws"),
           "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    log = open(tmp / "lab.log", "w")
    proc = subprocess.Popen(
        [str(BIN / "jupyter-lab"), "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work}",
         "--ServerApp.port_retries=0", "--LabApp.expose_app_in_browser=True",
         "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
         "--ServerApp.open_browser=False", "--allow-root", "--LabApp.extension_manager=readonly"],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=work, start_new_session=True)
    base = f"http://127.0.0.1:{port}"

    def up():
        try:
            with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as r:
                return r.status == 200
        except OSError:
            if proc.poll() is not None:
                raise AssertionError("JupyterLab exited:\n" + (tmp / "lab.log").read_text()[-2000:])
            return False

    try:
        _wait(up, 60, "JupyterLab to answer")
        yield base, token
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)      # the server and the kernels it started
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def browser():
    with chromium() as driver:
        yield driver


def _open_and_run_all(driver, base, token, path, timeout=90):
    driver.get(f"{base}/lab/tree/{path}?reset&token={token}")
    status = ("const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
              "const k = w && w.sessionContext && w.sessionContext.session"
              " && w.sessionContext.session.kernel;"
              "return k ? k.status : null;")
    _wait(lambda: driver.execute_script(status) == "idle", timeout, f"the kernel of {path} to be idle")
    driver.execute_script("window.jupyterapp.commands.execute('notebook:run-all-cells');")
    done = ("const w = window.jupyterapp.shell.currentWidget;"
            "const cells = w.content.widgets.filter(c => c.model.type === 'code');"
            "return w.sessionContext.session.kernel.status === 'idle'"
            " && cells.every(c => c.model.executionCount !== null);")
    _wait(lambda: driver.execute_script(done), timeout, f"every cell of {path} to run")


def _summary(driver):
    texts = driver.execute_script(
        "return Array.from(document.querySelectorAll('.jp-Notebook .widget-html-content'))"
        ".map(e => e.textContent);")
    hits = [t for t in texts if SUMMARY_RE.search(t)]
    return hits[-1] if hits else None


def test_pooling_explorer_in_jupyterlab(lab, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    base, token = lab
    _open_and_run_all(browser, base, token, "chapters/pooling.ipynb")
    first = _wait(lambda: _summary(browser), 30, "the pooling explorer's summary")
    # the chapter's prose as jupyterlab-myst renders it after the run: no raw role, no error
    prose = browser.execute_script(
        "return Array.from(document.querySelectorAll('.jp-MarkdownCell')).map(e => e.innerText).join(' ');")
    for raw in ("{eval}", "{glue", "{cite}", "NameError"):
        assert raw not in prose, f"{raw!r} in the rendered Markdown of the pooling chapter"
    k0 = int(SUMMARY_RE.search(first).group(1))

    # the explorer's estimator menu: the <select> labelled "tau² estimator"
    dropdowns = [d for d in browser.find_elements(By.CSS_SELECTOR, ".jp-Notebook .widget-dropdown")
                 if "tau² estimator" in d.text or "tau² estimator" in d.get_attribute("textContent")]
    assert dropdowns, "no 'tau² estimator' dropdown on the page"
    box = dropdowns[-1]
    select = Select(box.find_element(By.TAG_NAME, "select"))
    assert select.first_selected_option.text == "REML"
    select.select_by_visible_text("SJ")        # Sidik-Jonkman: tau² > 0 always, so g moves
    second = _wait(lambda: (s := _summary(browser)) != first and s, 20, "the summary to follow the estimator")
    assert int(SUMMARY_RE.search(second).group(1)) == k0
    tau2 = re.compile(r"tau² = (\S+),")
    assert tau2.search(second).group(1) != tau2.search(first).group(1), (first, second)

    # untick the first trial of the same explorer: k drops by one
    explorer = box.find_element(By.XPATH, "./ancestor::div[contains(@class,'widget-vbox')][2]")
    boxes = explorer.find_elements(By.CSS_SELECTOR, ".widget-checkbox input[type=checkbox]")
    assert len(boxes) == k0 and all(b.is_selected() for b in boxes)
    boxes[0].click()
    third = _wait(lambda: (s := _summary(browser)) != second and s, 20, "the summary to follow the tick box")
    assert int(SUMMARY_RE.search(third).group(1)) == k0 - 1, third


def test_jupyterlab_myst_renders_eval_and_cite(lab, browser):
    base, token = lab
    _open_and_run_all(browser, base, token, "myst_check.ipynb")
    text = _wait(lambda: browser.execute_script(
        "const m = document.querySelectorAll('.jp-MarkdownCell .jp-RenderedMarkdown, "
        ".jp-MarkdownCell .myst');"
        "const t = Array.from(m).map(e => e.textContent).join(' ');"
        "return t.includes('0.000') ? t : null;"), 30, "the markdown cell to show the evaluated values")
    assert "\u22120.12" in text and "0.000" in text
    assert "{eval}" not in text and "{cite}" not in text
    # the table helpers in JupyterLab: the static table, and the interactive one drawn by its
    # bundled DataTables (search box present, 10 of 30 rows on the first page)
    rows = _wait(lambda: browser.execute_script(
        "const t = document.querySelector('.jp-OutputArea table.dataTable');"
        "return t && document.querySelector('.jp-OutputArea .dt-search input')"
        " ? t.querySelectorAll('tbody tr').length : null;"), 30, "the interactive table to be drawn")
    assert rows == 10
    assert browser.execute_script(
        "return Array.from(document.querySelectorAll('.jp-OutputArea table[id^=T_gm] th'))"
        ".map(e => e.textContent.trim());")[:2] == ["Study", "n"]
