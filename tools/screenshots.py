"""Screenshot every built chapter, whole page, in headless Chromium (Debian `chromium`).

    python tools/screenshots.py [--max-height 12000] [--width 1280] [--html _build/html] [page ...]

Serves the built book on 127.0.0.1 (no network needed: maths, tables and figures are all local)
and writes _build/screenshots/<chapter>.png, each as tall as its page (up to --max-height px),
after images, MathJax and interactive tables have loaded. Pages: every chapter, or the stems given
(e.g. ``pooling audit``). Uses the same browser set-up as the browser tests (tests/browser/).
"""
import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "browser"))
from _browser import SETTLE_PRELUDE, chromium, missing_browser, serve  # noqa: E402

OUT = ROOT / "_build" / "screenshots"

SETTLE = SETTLE_PRELUDE + r"""
  done(document.documentElement.scrollHeight);
})();
"""


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("pages", nargs="*", help="chapter stems (default: all)")
    parser.add_argument("--max-height", type=int, default=12000)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--html", type=Path, default=ROOT / "_build" / "html")
    args = parser.parse_args()
    why = missing_browser()
    if why:
        raise SystemExit(why)
    pages = sorted((args.html / "chapters").glob("*.html"))
    if args.pages:
        pages = [p for p in pages if p.stem in set(args.pages)]
    OUT.mkdir(parents=True, exist_ok=True)
    with serve(args.html) as base, chromium() as driver:
        driver.set_script_timeout(30)
        for page in pages:
            driver.set_window_size(args.width, 1000)
            driver.get(f"{base}/chapters/{page.name}")
            height = driver.execute_async_script(SETTLE)
            driver.set_window_size(args.width, min(int(height) + 40, args.max_height))
            time.sleep(0.3)
            target = OUT / f"{page.stem}.png"
            driver.save_screenshot(str(target))
            print(f"{target.relative_to(ROOT)}  ({height} px tall)")


if __name__ == "__main__":
    main()
