"""Screenshot every built chapter in headless Chromium (Debian package `chromium`).

    python tools/screenshots.py [--height 2400]

Serves _build/html on 127.0.0.1 and writes _build/screenshots/<chapter>.png.
"""
import argparse
import functools
import http.server
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
OUT = ROOT / "_build" / "screenshots"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--height", type=int, default=2400)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise SystemExit("chromium not found: apt-get install -y chromium fonts-dejavu-core")
    OUT.mkdir(parents=True, exist_ok=True)
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(HTML))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        for page in sorted((HTML / "chapters").glob("*.html")):
            target = OUT / f"{page.stem}.png"
            with tempfile.TemporaryDirectory() as profile:
                subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                                "--no-first-run", "--disable-background-networking", "--disable-component-update",
                                "--disable-sync", "--hide-scrollbars", f"--user-data-dir={profile}",
                                f"--window-size=1280,{args.height}", "--virtual-time-budget=5000",
                                f"--screenshot={target}",
                                f"http://127.0.0.1:{args.port}/chapters/{page.name}"],
                               check=True, capture_output=True, timeout=120)
            print(target.relative_to(ROOT))
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
