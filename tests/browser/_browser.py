"""Shared parts of the browser checks: a headless Debian Chromium driven by Selenium, offline.

Uses the system's ``/usr/bin/chromium`` and ``/usr/bin/chromedriver`` (Debian packages
``chromium`` and ``chromium-driver``; ``.ci/run`` installs them when missing): nothing is
downloaded. Every browser gets a fresh profile and the flags that stop it from calling home.
"""
from __future__ import annotations

import functools
import http.server
import os
import shutil
import socket
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("GUTMETA_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("GUTMETA_CHROMEDRIVER", "/usr/bin/chromedriver")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars", "--window-size=1280,1600"]


def missing_browser() -> str | None:
    """Why the browser checks cannot run here, or None. The checks skip for that reason on a
    developer's machine, but fail under CI (``CI`` set), where ``.ci/run`` installs the browser."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not Path(path).exists():
            return f"{path} not found: apt-get install -y chromium chromium-driver"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (requirements.txt)"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def chromium():
    """A headless Chromium (Selenium WebDriver) with a fresh profile; closed on exit."""
    why = missing_browser()
    if why:
        raise RuntimeError(why)
    os.environ.setdefault("SE_OFFLINE", "true")           # Selenium Manager: never download
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="gm-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in FLAGS + [f"--user-data-dir={profile}"]:
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@contextmanager
def serve(directory: Path):
    """Serve ``directory`` on 127.0.0.1 (a free port); yields the base URL."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


#: The start of an async Selenium script that waits until a built page has settled: images loaded,
#: MathJax typeset, interactive tables drawn. Callers append their own body, then ``})();``; the
#: names ``done``, ``sleep`` and ``imgs`` are defined for them.
SETTLE_PRELUDE = r"""
const done = arguments[arguments.length - 1];
(async () => {
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  const imgs = Array.from(document.images);
  imgs.forEach(i => { i.loading = 'eager'; });
  for (let t = 0; t < 100 && !imgs.every(i => i.complete); t++) await sleep(100);
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    try { await MathJax.startup.promise; } catch (e) {}
  }
  for (let t = 0; t < 100 && document.body.innerText.includes('Loading ITables'); t++) await sleep(100);
"""
