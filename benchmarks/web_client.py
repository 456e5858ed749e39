"""The web client's weight and its frame rate in play.

1. Builds the client (Vite, production) into a scratch folder and reports what a browser downloads:
   every JavaScript and CSS file gzipped (level 6, as a web server sends them), in total and for the
   entry chunk ``index.html`` loads first (the other chunks load with their pages).
2. Runs the real local stack (``elysium up --bots 2``, the bots playing their own match beside), makes two
   players who quick-play a duel in headless chromium, holds movement keys, and samples the game
   canvas's ``data-fps`` (frames drawn in the last second) twice a second: the median over the run.

    .venv/bin/python benchmarks/web_client.py [--seconds 10] [--no-play]

Prints one JSON line with the figures. Needs node (npx) and chromium on PATH.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.web.flows import register, signed_in  # noqa: E402 - the browser tests' stack runner, reused
from tests.web.stack import build_client, start_stack  # noqa: E402


def gz(path: Path) -> int:
    return len(gzip.compress(path.read_bytes(), compresslevel=6))


def bundle(out: Path) -> dict[str, Any]:
    seconds = build_client(out, force=True)
    files = sorted(p for p in (out / "assets").rglob("*") if p.suffix in (".js", ".css"))
    entry_src = re.search(r'<script[^>]+type="module"[^>]+src="/?([^"]+)"', (out / "index.html").read_text())
    assert entry_src is not None, "index.html names no entry script"
    entry = out / entry_src.group(1)
    css = [p for p in files if p.suffix == ".css"]
    return {"build_s": round(seconds, 1), "files": len(files),
            "total_gzip_bytes": sum(gz(p) for p in files), "total_raw_bytes": sum(p.stat().st_size for p in files),
            "entry_gzip_bytes": gz(entry), "entry_raw_bytes": entry.stat().st_size,
            "css_gzip_bytes": sum(gz(p) for p in css),
            "largest_chunk_gzip_bytes": max(gz(p) for p in files if p.suffix == ".js")}


def play_fps(web_dir: Path, seconds: float) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("chromium is not on PATH")
    with tempfile.TemporaryDirectory() as state:
        stack = start_stack(Path(state), bots=2, web_dir=web_dir)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium, headless=True, args=["--disable-gpu"])
                pages = []
                for _ in range(2):
                    context = browser.new_context(base_url=stack.web_url, viewport={"width": 1280, "height": 800})
                    page = signed_in(context.new_page(), register(stack, "bench"))
                    page.goto("/arena")
                    quick = page.get_by_role("region", name="Quick play")
                    select = quick.locator("label", has_text=re.compile(r"^\s*Mode")).locator("select")
                    select.locator("option[value=duel]").wait_for(state="attached", timeout=20_000)
                    select.select_option("duel")
                    quick.get_by_role("button", name="Play").click()
                    pages.append(page)
                for page in pages:
                    page.wait_for_url(re.compile(r"/arena/play$"), timeout=60_000)
                    page.get_by_test_id("game-canvas").wait_for(timeout=30_000)
                page = pages[0]
                page.wait_for_function("() => Number(document.querySelector('[data-testid=game-canvas]')"
                                       ".getAttribute('data-fps')) > 0", timeout=30_000)
                samples: list[float] = []
                keys = ("ArrowRight", "ArrowDown", "ArrowLeft", "ArrowUp")
                started = time.monotonic()
                while time.monotonic() - started < seconds:
                    key = keys[int((time.monotonic() - started) // 1.5) % len(keys)]
                    page.keyboard.down(key)
                    page.wait_for_timeout(500)
                    page.keyboard.up(key)
                    samples.append(float(page.get_by_test_id("game-canvas").get_attribute("data-fps") or 0))
                browser.close()
        finally:
            stack.stop()
    return {"fps_median": statistics.median(samples), "fps_min": min(samples), "fps_samples": len(samples),
            "seconds": seconds}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="how long to sample the frame rate in play")
    parser.add_argument("--no-play", action="store_true", help="only the bundle sizes")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "dist"
        result: dict[str, Any] = {"bench": "web_client", **bundle(out)}
        if not args.no_play:
            result.update(play_fps(out, args.seconds))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
