"""The static page in web/ (issue 17) driven in headless Chromium through Playwright.

The page runs the int8 LiteRT files with LiteRT.js (WASM); every figure it draws is checked against the same file
run by ai_edge_litert in Python. Needs Debian's chromium at /usr/bin/chromium and a page built by `make web`;
without either the module is skipped with one line (so `make test` skips it on a fresh clone), unless
ZOO_WEB_REQUIRED=1 (set by .ci/run after `make web`), where that is a failure."""

import contextlib
import functools
import hashlib
import http.server
import importlib.util
import json
import os
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "web"
CHROMIUM = "/usr/bin/chromium"
# No GPU, no network beyond 127.0.0.1, nothing the browser does in the background.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TOLERANCE = 2 / 255  # the bound between a canvas pixel and ai_edge_litert's output for the same input


def _missing():
    if not Path(CHROMIUM).is_file():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    if not (WEB / "models" / "models.json").is_file() or not (WEB / "wasm" / "litert_wasm_internal.wasm").is_file():
        return "web/ is not built (make web)"
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed"
    return None


_why = _missing()
if _why:
    if os.environ.get("ZOO_WEB_REQUIRED") == "1":
        pytest.fail(f"web page test cannot run: {_why}", pytrace=False)
    pytest.skip(f"web page test skipped: {_why}", allow_module_level=True)

from playwright.sync_api import sync_playwright  # noqa: E402

MANIFEST = json.loads((WEB / "models" / "models.json").read_text())["models"]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve(folder):
    """A static server for `folder` on 127.0.0.1 (a free port), in a thread: what `python -m http.server` does."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(_QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def site():
    with serve(WEB) as url:
        yield url


class Opened:
    """A loaded page and everything it printed: console messages (type, text, url) and uncaught errors."""

    def __init__(self, browser, url, **context):
        self.context = browser.new_context(**{"viewport": {"width": 1200, "height": 1000}, **context})
        self.page = self.context.new_page()
        self.console = []
        self.requests = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("console", lambda m: self.console.append((m.type, m.text, m.location.get("url", ""))))
        self.page.on("pageerror", lambda e: self.console.append(("pageerror", str(e), "")))
        self.page.goto(url + "index.html")
        self.page.evaluate("window.zoo.ready.then(() => undefined)")

    def noise(self, allowed=()):
        """Console errors and warnings, and uncaught errors, except those matching (type, text start, url end)."""
        return [m for m in self.console if m[0] in ("error", "warning", "pageerror")
                and not any(m[0] == t and m[1].startswith(s) and m[2].endswith(u) for t, s, u in allowed)]

    def settle(self, name):
        self.page.evaluate("(name) => window.zoo.models[name].settled()", name)

    def close(self):
        self.context.close()


@pytest.fixture(scope="module")
def main_page(browser, site):
    opened = Opened(browser, site)
    yield opened
    opened.close()


def canvas_digit(page, selector):
    """The 28 x 28 digit on a canvas, read back from its pixels (as 784 values in [0, 1]); every digit pixel must be
    one flat, opaque grey square on the canvas. Checked in the page, so only 784 numbers come back."""
    read = page.evaluate("""(selector) => {
        const c = document.querySelector(selector);
        const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
        const step = c.width / 28;
        const grey = [];
        let flat = c.width === c.height && Number.isInteger(step);
        for (let y = 0; y < c.height; y++) {
            for (let x = 0; x < c.width; x++) {
                const i = 4 * (y * c.width + x);
                const j = 4 * ((y - y % step) * c.width + (x - x % step));
                if (d[i] !== d[j] || d[i + 1] !== d[i] || d[i + 2] !== d[i] || d[i + 3] !== 255) flat = false;
                if (x % step === 0 && y % step === 0) grey.push(d[i]);
            }
        }
        return {flat, grey};
    }""", selector)
    assert read["flat"], "a digit pixel is not one flat grey square"
    return np.array(read["grey"], np.float64) / 255


@functools.cache
def litert_runner(file):
    from ai_edge_litert.interpreter import Interpreter

    return Interpreter(model_path=str(file), num_threads=1).get_signature_runner()


def python_litert(name, folder=WEB / "models", manifest=MANIFEST, **inputs):
    out = litert_runner(folder / manifest[name]["file"])(**{k: np.asarray(v, np.float32)[None] for k, v in
                                                            inputs.items()})
    return {k: v[0] for k, v in out.items()}


def test_the_page_loads_its_models_offline_with_a_clean_console(main_page, site):
    page = main_page.page
    # Everything comes from the page's own folder: the runtime's modules and WASM, and the models.
    assert all(url.startswith(site) for url in main_page.requests), main_page.requests
    assert {url[len(site):] for url in main_page.requests} >= {
        "lib/core/index.js", "lib/wasm-utils/index.js", "wasm/litert_wasm_internal.js",
        "wasm/litert_wasm_internal.wasm", "models/models.json", *(f"models/{e['file']}" for e in MANIFEST.values())}
    zoo = page.evaluate("({t: zoo.timings, m: zoo.messages, names: Object.keys(zoo.models)})")
    assert zoo["m"] == [], zoo["m"]
    assert sorted(zoo["names"]) == sorted(MANIFEST)
    assert 0 < zoo["t"]["runtimeMs"] <= zoo["t"]["firstDigitMs"]
    assert "ready" in page.locator("#status").text_content()
    # The GAN's panel appears only when models.json lists a generator; today's build has none.
    assert page.locator("#generator").is_hidden() == ("generator" not in {e["role"] for e in MANIFEST.values()})
    for name in ("vae_mnist", "vae2d_mnist", "mnist_classifier"):
        assert page.locator(f"#{name} .message").is_hidden()
    assert main_page.noise() == []


def test_sliders_redraw_what_python_litert_decodes(main_page):
    page = main_page.page
    sliders = page.locator("#vae_mnist .sliders input")
    assert sliders.count() == MANIFEST["vae_mnist"]["inputs"][0]["shape"][1] == 32
    before = canvas_digit(page, "#vae_mnist canvas.digit")
    page.locator("#vae_mnist [data-action=random]").click()
    moved = {0: 2.5, 5: -1.75, 17: 0.33, 31: -2.9}
    for i, value in moved.items():
        sliders.nth(i).fill(f"{value:.2f}")  # a user's input events, one slider at a time
    main_page.settle("vae_mnist")
    z = np.array(page.eval_on_selector_all("#vae_mnist .sliders input", "els => els.map(e => Number(e.value))"))
    assert [z[i] for i in moved] == list(moved.values()) and np.std(z) > 0.3
    shown = canvas_digit(page, "#vae_mnist canvas.digit")
    expected = python_litert("vae_mnist", code=z)["image"]
    assert np.abs(shown - expected).max() <= TOLERANCE, np.abs(shown - expected).max()
    assert shown.max() > 0.5 and np.abs(shown - before).mean() > 0.01  # a digit, and a new one

    # One more slider move redraws again, and the digit still matches.
    sliders.nth(3).fill("-3")
    main_page.settle("vae_mnist")
    z[3] = -3
    expected = python_litert("vae_mnist", code=z)["image"]
    assert np.abs(canvas_digit(page, "#vae_mnist canvas.digit") - expected).max() <= TOLERANCE
    assert main_page.noise() == []


def test_the_2d_pad_decodes_the_point_under_the_pointer(main_page):
    page = main_page.page
    pad = page.locator("#vae2d_mnist canvas.pad2d")
    box = pad.bounding_box()
    page.evaluate("zoo.models.vae2d_mnist.mapReady")
    for z_want, drag in (((1.0, -0.5), False), ((-2.0, 1.5), True)):
        # pad x spans z1 in [-3, 3] left to right, y spans z2 in [3, -3] top to bottom
        x = box["x"] + (z_want[0] + 3) / 6 * box["width"]
        y = box["y"] + (3 - z_want[1]) / 6 * box["height"]
        if drag:
            page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            page.mouse.down()
            page.mouse.move(x, y, steps=4)
            page.mouse.up()
        else:
            page.mouse.click(x, y)
        main_page.settle("vae2d_mnist")
        z = np.array(page.evaluate("Array.from(zoo.models.vae2d_mnist.latent)"), np.float32)
        np.testing.assert_allclose(z, z_want, atol=6 / box["width"])  # a pixel or so of the 240-px pad
        assert page.locator("#vae2d_mnist .coords").text_content() == f"z = ({z[0]:.2f}, {z[1]:.2f})"
        shown = canvas_digit(page, "#vae2d_mnist canvas.digit")
        expected = python_litert("vae2d_mnist", code=z)["image"]
        assert np.abs(shown - expected).max() <= TOLERANCE, np.abs(shown - expected).max()
        assert shown.max() > 0.5
    assert main_page.noise() == []


# Strokes on the 280 x 280 pad, in its own pixels, drawn with the mouse as a person would.
STROKES = {
    1: [[(140, 40), (146, 240)]],
    7: [[(70, 50), (210, 50), (120, 245)]],
    0: [[(140 + 65 * np.sin(t), 140 - 95 * np.cos(t)) for t in np.linspace(0, 2 * np.pi, 17)]],
    4: [[(100, 40), (70, 160), (210, 160)], [(175, 90), (175, 250)]],
}


def draw(page, strokes):
    box = page.locator("#mnist_classifier canvas.drawpad").bounding_box()
    sx, sy = box["width"] / 280, box["height"] / 280
    for stroke in strokes:
        page.mouse.move(box["x"] + stroke[0][0] * sx, box["y"] + stroke[0][1] * sy)
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(box["x"] + x * sx, box["y"] + y * sy, steps=3)
        page.mouse.up()


@pytest.mark.parametrize("digit", sorted(STROKES))
def test_a_digit_drawn_with_the_mouse_is_classified(main_page, digit):
    page = main_page.page
    page.locator("#mnist_classifier [data-action=clear]").click()
    assert page.evaluate("zoo.models.mnist_classifier.predicted") is None
    draw(page, STROKES[digit])
    main_page.settle("mnist_classifier")
    assert page.locator("#mnist_classifier .prediction b").text_content() == str(digit)
    state = page.evaluate("({x: Array.from(zoo.models.mnist_classifier.input), "
                          "p: Array.from(zoo.models.mnist_classifier.probabilities)})")
    x, p = np.array(state["x"]), np.array(state["p"])
    # The pad's input looks like MNIST: ink in [0, 1], its box 20 pixels on the long side, centred by mass.
    rows, cols = np.nonzero(x.reshape(28, 28) > 0)
    assert 0 <= x.min() and x.max() <= 1 and 19 <= max(np.ptp(rows), np.ptp(cols)) + 1 <= 22
    grid = x.reshape(28, 28)
    centre = [np.average(np.arange(28), weights=grid.sum(axis=a)) for a in (1, 0)]
    np.testing.assert_allclose(centre, 14, atol=0.5)  # where MNIST's digits have it
    expected = python_litert("mnist_classifier", image=x)["probabilities"]
    assert np.abs(p - expected).max() <= 1 / 255 and np.argmax(expected) == digit
    bars = page.eval_on_selector_all("#mnist_classifier .bars .p", "els => els.map(e => e.textContent)")
    assert bars == [f"{100 * v:.1f}%" for v in p]
    assert main_page.noise() == []


def test_a_digit_drawn_with_a_finger_on_a_phone_is_classified(browser, site):
    """Real touch input (the DevTools protocol's touch events) on a phone-sized page."""
    opened = Opened(browser, site, viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    page = opened.page
    try:
        pad = page.locator("#mnist_classifier canvas.drawpad")
        pad.scroll_into_view_if_needed()
        box = pad.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390  # the pad fits the phone's width
        cdp = opened.context.new_cdp_session(page)
        stroke = [(box["x"] + x * box["width"] / 280, box["y"] + y * box["height"] / 280)
                  for x, y in [(70, 50), (140, 50), (210, 50), (180, 110), (150, 180), (120, 245)]]
        cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": stroke[0][0],
                                                                                        "y": stroke[0][1]}]})
        for x, y in stroke[1:]:
            cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        opened.settle("mnist_classifier")
        assert page.evaluate("zoo.models.mnist_classifier.predicted") == 7
        assert opened.noise() == []
    finally:
        opened.close()


def test_mnist_test_digits_painted_on_the_pad_are_classified(main_page):
    data = Path(os.environ.get("ZOO_DATA_DIR", "")) / "mnist.npz"
    if not data.is_file():
        pytest.skip("needs $ZOO_DATA_DIR/mnist.npz")
    with np.load(data) as d:
        x, y = d["x_test"], d["y_test"]
    page = main_page.page
    for digit in range(10):
        image = x[np.flatnonzero(y == digit)[0]].reshape(784) / 255
        page.evaluate("(v) => zoo.models.mnist_classifier.paint(Float32Array.from(v))", image.tolist())
        got = page.evaluate("({k: zoo.models.mnist_classifier.predicted, "
                            "x: Array.from(zoo.models.mnist_classifier.input)})")
        assert got["k"] == digit
        # Re-centring an MNIST digit drawn 10x larger gives back nearly the same image.
        assert np.corrcoef(np.array(got["x"]), image)[0, 1] > 0.85
    assert main_page.noise() == []


def broken_copy(tmp_path, change):
    """A copy of the built page (runtime files linked, models copied) with `change(models_dir, manifest)` applied."""
    site = tmp_path / "site"
    site.mkdir()
    for name in ("index.html", "app.js", "style.css"):
        shutil.copyfile(WEB / name, site / name)
    for name in ("lib", "wasm"):
        (site / name).symlink_to(WEB / name, target_is_directory=True)
    shutil.copytree(WEB / "models", site / "models")
    manifest = json.loads((site / "models" / "models.json").read_text())
    change(site / "models", manifest["models"])
    (site / "models" / "models.json").write_text(json.dumps(manifest))
    return site


def test_missing_and_corrupt_model_files_show_a_message(browser, tmp_path):
    def change(models, entries):
        (models / entries["vae_mnist"]["file"]).unlink()
        path = models / entries["mnist_classifier"]["file"]
        data = bytearray(path.read_bytes())
        data[len(data) // 2:len(data) // 2 + 64] = bytes(64)  # damaged in the middle, same size
        path.write_bytes(bytes(data))

    with serve(broken_copy(tmp_path, change)) as url:
        opened = Opened(browser, url)
        page = opened.page
        try:
            missing = page.locator("#vae_mnist .message")
            assert missing.is_visible() and "is missing (HTTP 404)" in missing.text_content()
            corrupt = page.locator("#mnist_classifier .message")
            assert corrupt.is_visible() and "is corrupt" in corrupt.text_content()
            for name in ("vae_mnist", "mnist_classifier"):
                assert page.locator(f"#{name} .body").is_hidden()  # no blank canvas left standing
            assert "2 model(s) could not be loaded" in page.locator("#status").text_content()
            # The intact model still works.
            assert canvas_digit(page, "#vae2d_mnist canvas.digit").max() > 0.5
            file = MANIFEST["vae_mnist"]["file"]
            # The browser itself logs the 404 of the missing file; nothing else may appear.
            assert opened.noise(allowed=[("error", "Failed to load resource", f"/models/{file}")]) == []
            assert len(opened.console) == 1
        finally:
            opened.close()


def test_files_litert_refuses_show_a_message(browser, tmp_path):
    """Files whose sha256 matches the manifest but which LiteRT.js cannot use: garbage after a TFL3 header, and
    the shipped decoder with a dynamic batch (the trap the issue describes)."""
    def change(models, entries):
        garbage = bytes(4) + b"TFL3" + bytes(range(256)) * 64
        dynamic = (ROOT / "saved_models" / "vae_mnist" / "exports" / "decoder_int8.tflite").read_bytes()
        for name, data in (("mnist_classifier", garbage), ("vae_mnist", dynamic)):
            (models / entries[name]["file"]).write_bytes(data)
            entries[name].update(sha256=hashlib.sha256(data).hexdigest(), bytes=len(data))

    with serve(broken_copy(tmp_path, change)) as url:
        opened = Opened(browser, url)
        page = opened.page
        try:
            text = page.locator("#mnist_classifier .message").text_content()
            assert "LiteRT.js could not compile" in text
            text = page.locator("#vae_mnist .message").text_content()
            assert "dynamic input shape [-1,32]" in text and "--batch 1" in text
            assert page.locator("#vae_mnist .body").is_hidden()
            assert opened.noise() == []
        finally:
            opened.close()


def test_without_models_json_or_runtime_the_page_says_to_build_it(browser, tmp_path):
    site = broken_copy(tmp_path, lambda models, entries: None)
    (site / "models" / "models.json").unlink()
    with serve(site) as url:
        opened = Opened(browser, url)
        try:
            assert "run `make web`" in opened.page.locator("#status").text_content()
            assert opened.page.locator("#vae_mnist .body").is_hidden()
            assert opened.noise(allowed=[("error", "Failed to load resource", "/models/models.json")]) == []
        finally:
            opened.close()
    (site / "wasm").unlink()
    with serve(site) as url:
        opened = Opened(browser, url)
        try:
            status = opened.page.locator("#status").text_content()
            assert "runtime could not be loaded from wasm/" in status and "make web" in status
            assert opened.page.locator("#mnist_classifier .message").text_content() == \
                "No runtime: this model cannot run."
            assert opened.noise(allowed=[("error", "Failed to load resource", "/wasm/litert_wasm_internal.js")]) == []
        finally:
            opened.close()


def check_generator(opened, name, folder, manifest, digit):
    """Picks `digit`, asks for a new sample, and compares the canvas with ai_edge_litert on the page's inputs."""
    page = opened.page
    lo, hi = manifest[name].get("output_range", [0.0, 1.0])
    assert page.locator("#generator").is_visible()
    assert page.locator("#generator .gen-name").text_content() == name
    page.locator(f"#generator .digits input[value='{digit}']").check()
    page.locator("#generator [data-action=sample]").click()
    opened.settle(name)
    state = page.evaluate("(n) => ({names: zoo.models[n].runner.inputs.map(d => d.name), "
                          "inputs: zoo.models[n].inputs.map(a => Array.from(a))})", name)
    given = dict(zip(state["names"], state["inputs"]))
    np.testing.assert_array_equal(given.pop("label_onehot"), np.eye(10)[digit])
    (noise,) = given.values()  # the other input: N(0, 1) noise
    assert len(noise) >= 8 and 0.5 < np.std(noise) < 1.5
    shown = canvas_digit(page, "#generator canvas.digit")
    out = python_litert(name, folder=folder, manifest=manifest, **dict(zip(state["names"], state["inputs"])))
    expected = np.clip((out["image"] - lo) / (hi - lo), 0, 1)
    assert np.abs(shown - expected).max() <= TOLERANCE, np.abs(shown - expected).max()
    page.locator("#generator [data-action=sample]").click()
    opened.settle(name)
    again = page.evaluate("(n) => zoo.models[n].inputs.map(a => Array.from(a))", name)
    changed = [a != b for a, b in zip(again, state["inputs"])]
    assert changed == [n != "label_onehot" for n in state["names"]]  # new noise, same digit
    assert np.abs(canvas_digit(page, "#generator canvas.digit") - shown).mean() > 0.005
    assert opened.noise() == []


def test_the_shipped_generator_panel(main_page):
    generators = [n for n, e in MANIFEST.items() if e["role"] == "generator"]
    if not generators:
        pytest.skip("no generator in web/models/models.json (cgan_mnist not shipped)")
    check_generator(main_page, generators[0], WEB / "models", MANIFEST, digit=7)


def test_a_listed_generator_gets_its_panel(browser, tmp_path):
    """The generator panel is driven by models.json alone: a stand-in conditional generator (noise + one-hot digit
    -> tanh image, random weights) listed there gets the panel, its digit picker and "new sample" drive the file,
    and the canvas shows ai_edge_litert's output for the same inputs mapped from the listed range [-1, 1]. Runs
    only while no generator ships (it imports TensorFlow to convert the stand-in)."""
    if any(e["role"] == "generator" for e in MANIFEST.values()):
        pytest.skip("a generator ships: test_the_shipped_generator_panel covers the panel")
    import keras

    from export.litert import convert

    keras.utils.set_random_seed(0)
    noise = keras.Input((16,), name="noise")
    label = keras.Input((10,), name="label_onehot")
    hidden = keras.layers.Dense(64, activation="relu")(keras.layers.Concatenate()([noise, label]))
    image = keras.layers.Dense(784, activation="tanh")(hidden)
    generator = keras.Model([noise, label], {"image": image}, name="generator")

    def change(models, entries):
        for entry in [e for e in entries.values() if e["role"] == "generator"]:
            (models / entry["file"]).unlink()
        for name in [n for n, e in entries.items() if e["role"] == "generator"]:
            del entries[name]
        path = convert(generator, models / "standin_generator.tflite", batch=1)
        data = path.read_bytes()
        entries["standin_gan"] = {"role": "generator", "file": path.name, "bytes": len(data),
                                  "sha256": hashlib.sha256(data).hexdigest(), "output_range": [-1.0, 1.0]}

    site = broken_copy(tmp_path, change)
    manifest = json.loads((site / "models" / "models.json").read_text())["models"]
    with serve(site) as url:
        opened = Opened(browser, url)
        try:
            check_generator(opened, "standin_gan", site / "models", manifest, digit=3)
        finally:
            opened.close()
