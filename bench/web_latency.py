"""The web page's speed: time to the first digit after a fresh load, and per-inference latency of each int8 model
in the browser (LiteRT.js, WASM, one thread), next to the same .tflite file in Python (ai_edge_litert, one thread).

    make web && python bench/web_latency.py [--loads 5] [--blocks 50] [--per 20] [--out bench/results/web_latency.json]

Headless Debian chromium (/usr/bin/chromium) through Playwright, the page served by a static server on 127.0.0.1.
Each load is a new browser context (empty cache), so it fetches the runtime (9 MB of WASM) and the models again.
A browser call creates the input tensor, runs the model and copies the output back, as the page does on each
change; a Python call is the signature runner with the same input. Prints JSON. About a minute.
"""

import argparse
import contextlib
import functools
import http.server
import json
import os
import platform
import statistics
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "web"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve(folder):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(_QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    finally:
        server.shutdown()
        server.server_close()


def python_latency(file, inputs, blocks, per):
    """Timed as in the page (zoo.bench): blocks of `per` calls, the median over blocks of the time per call."""
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_path=str(file), num_threads=1).get_signature_runner()
    feed = {k: np.asarray(v, np.float32)[None] for k, v in inputs.items()}
    for _ in range(20):
        runner(**feed)
    per_call = []
    start = time.perf_counter()
    for _ in range(blocks):
        t = time.perf_counter()
        for _ in range(per):
            runner(**feed)
        per_call.append((time.perf_counter() - t) / per)
    mean = (time.perf_counter() - start) / (blocks * per)
    return {"calls": blocks * per, "blocks": blocks, "median_ms": round(statistics.median(per_call) * 1e3, 4),
            "min_ms": round(min(per_call) * 1e3, 4), "mean_ms": round(mean * 1e3, 4)}


def screenshot(page, path):
    """The page as a person leaves it: a 4 drawn on the classifier's pad, the 2-D pad moved, digit 8 generated."""
    page.set_viewport_size({"width": 1200, "height": 900})
    pad = page.locator("#vae2d_mnist canvas.pad2d").bounding_box()
    page.evaluate("zoo.models.vae2d_mnist.mapReady")
    page.mouse.click(pad["x"] + pad["width"] * 0.62, pad["y"] + pad["height"] * 0.35)
    box = page.locator("#mnist_classifier canvas.drawpad").bounding_box()
    for stroke in ([(100, 40), (70, 160), (210, 160)], [(175, 90), (175, 250)]):
        page.mouse.move(box["x"] + stroke[0][0], box["y"] + stroke[0][1])
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(box["x"] + x, box["y"] + y, steps=8)
        page.mouse.up()
    if page.locator("#generator").is_visible():
        page.locator("#generator .digits input[value='8']").check()
    page.evaluate("Promise.all(Object.values(zoo.models).map(m => m.settled()))")
    page.screenshot(path=path, full_page=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--loads", type=int, default=5, help="fresh page loads timed (default 5)")
    p.add_argument("--blocks", type=int, default=50, help="timed blocks of calls per model (default 50)")
    p.add_argument("--per", type=int, default=20, help="calls per block (default 20)")
    p.add_argument("--out", default=None, help="also write the JSON here")
    p.add_argument("--screenshot", default=None, help="also save a screenshot of the page in use (PNG) here")
    args = p.parse_args(argv)
    if not (WEB / "models" / "models.json").is_file():
        raise SystemExit("error: web/ is not built: run `make web`")
    manifest = json.loads((WEB / "models" / "models.json").read_text())

    from playwright.sync_api import sync_playwright

    load_at_start = round(os.getloadavg()[0], 2)
    loads, browser_rows = [], {}
    with serve(WEB) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        version = browser.version
        for _ in range(args.loads):
            context = browser.new_context()
            page = context.new_page()
            problems = []
            page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
            page.goto(url)
            page.wait_for_function("window.zoo && window.zoo.timings.firstDigitMs !== undefined", timeout=120_000)
            t = page.evaluate("({...zoo.timings, build: zoo.wasmBuild, "
                              "load: performance.getEntriesByType('navigation')[0].loadEventEnd})")
            if problems:
                raise SystemExit(f"error: the page logged: {problems[0]}")
            loads.append(t)
            context.close()
        context = browser.new_context()
        page = context.new_page()
        page.goto(url)
        page.evaluate("zoo.ready.then(() => undefined)")
        if args.screenshot:
            screenshot(page, args.screenshot)
        for name in manifest["models"]:
            browser_rows[name] = page.evaluate("([name, b, n]) => zoo.bench(name, b, n)",
                                               [name, args.blocks, args.per])
        context.close()
        browser.close()

    def med(key):
        return round(statistics.median(t[key] for t in loads), 1)

    rows = []
    for name, entry in manifest["models"].items():
        b = browser_rows[name]
        names = [d["name"] for d in entry["inputs"]]
        py = python_latency(WEB / "models" / entry["file"], dict(zip(names, b.pop("inputs"))), args.blocks,
                            args.per)
        rows.append({"model": name, "part": entry["part"], "file": entry["file"], "bytes": entry["bytes"],
                     "browser_wasm": {k: round(v, 4) if isinstance(v, float) else v for k, v in b.items()},
                     "python_litert": py,
                     "browser_over_python_median": round(b["median_ms"] / py["median_ms"], 2)})
    result = {
        "what": "int8 LiteRT files of web/models (fixed batch 1): per-call latency in headless Chromium "
                "(LiteRT.js, WASM accelerator, single-threaded build; a call = input tensor + run + output copy) "
                "and in Python (ai_edge_litert signature runner, num_threads=1), same input, timed in blocks of "
                "calls (median_ms: median over blocks of the time per call; mean_ms: over all calls); time to the "
                "first decoded digit after a fresh page load (new browser context, empty cache)",
        "command": "python bench/web_latency.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "chromium": version, "litertjs": manifest["litertjs"], "wasm_build": loads[0]["build"],
        "cpu_count": os.cpu_count(), "machine": platform.machine(), "load_average_1min_at_start": load_at_start,
        "page_load": {"loads": len(loads),
                      "runtime_ready_ms_median": med("runtimeMs"),
                      "first_digit_ms_median": med("firstDigitMs"),
                      "load_event_ms_median": med("load"),
                      "first_digit_ms": [round(t["firstDigitMs"], 1) for t in loads],
                      "note": "ms since navigation start (performance.now()); the runtime is ready when its WASM "
                              "is compiled; the first digit is vae_mnist's decoder output drawn on its canvas"},
        "rows": rows,
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
