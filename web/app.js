// The page's only script: loads LiteRT.js from ./lib and ./wasm, reads models/models.json (written by `make web`),
// and wires one card per listed model. Every failure ends as a message on the page, never as a blank canvas or a
// console error. window.zoo is the hook the browser test and bench/web_latency.py read.
import {loadAndCompile, loadLiteRt, supportsFeature, Tensor} from "@litertjs/core";

const SIDE = 28;
const PIXELS = SIDE * SIDE;
const LATENT_RANGE = 3;  // sliders and the 2-D pad span [-3, 3], about 99.7% of the prior per dimension

const zoo = {
  timings: {},   // ms since navigation start (performance.now())
  models: {},    // name -> {entry, runner, card state}
  messages: [],  // every message shown on the page
  manifest: null,
};
window.zoo = zoo;
let readyResolve;
zoo.ready = new Promise((resolve) => { readyResolve = resolve; });

function firstLine(error) {
  const text = String(error && error.message !== undefined ? error.message : error).trim();
  return text.split("\n")[0] || (error && error.name) || "unknown error";
}

function showMessage(card, text) {
  const box = card.querySelector(".message");
  box.textContent = text;
  box.hidden = false;
  box.classList.add("error");
  for (const el of card.querySelectorAll(".body, .timing")) el.hidden = true;
  zoo.messages.push(text);
}

function setStatus(text, isError = false) {
  const status = document.getElementById("status");
  status.textContent = text;
  status.classList.toggle("error", isError);
  if (isError) zoo.messages.push(text);
}

function hex(buffer) {
  return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
}

// A small seeded generator, so "random z" and "new sample" are reproducible from their counters.
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function normals(n, seed) {
  const uniform = mulberry32(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = 1 - uniform();
    const v = uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    out[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return out;
}

const clamp = (x, lo, hi) => Math.min(hi, Math.max(lo, x));

// One compiled model. run() takes one typed array per input (in getInputDetails() order) and returns one typed
// array per output; tensors live in WASM memory and are freed here.
class Runner {
  constructor(name, entry, model) {
    this.name = name;
    this.entry = entry;
    this.model = model;
    this.inputs = model.getInputDetails().map((d) => ({name: d.name, dtype: d.dtype, shape: Array.from(d.shape)}));
    this.outputs = model.getOutputDetails().map((d) => ({name: d.name, dtype: d.dtype, shape: Array.from(d.shape)}));
    this.lastMs = null;
  }

  async run(arrays) {
    const start = performance.now();
    const tensors = [];
    let outputs = [];
    try {
      arrays.forEach((array, i) => tensors.push(new Tensor(array, this.inputs[i].shape)));
      outputs = await this.model.run(tensors);
      const values = outputs.map((t) => t.toTypedArray());
      this.lastMs = performance.now() - start;
      return values;
    } finally {
      for (const t of tensors) t.delete();
      for (const t of outputs) t.delete();
    }
  }
}

async function loadModel(name, entry) {
  const url = `models/${entry.file}`;
  let response;
  try {
    response = await fetch(url, {cache: "no-cache"});
  } catch (e) {
    throw new Error(`could not fetch ${url}: ${firstLine(e)}`);
  }
  if (!response.ok) {
    throw new Error(`${url} is missing (HTTP ${response.status}); run \`make web\` to build it`);
  }
  const bytes = new Uint8Array(await response.arrayBuffer());
  // The manifest's sha256 catches a truncated or damaged file before LiteRT sees it (crypto.subtle exists only in
  // secure contexts, which include http://localhost and http://127.0.0.1).
  if (entry.sha256 && globalThis.crypto && crypto.subtle) {
    const digest = hex(await crypto.subtle.digest("SHA-256", bytes));
    if (digest !== entry.sha256) {
      throw new Error(`${url} is corrupt: ${bytes.length} bytes with sha256 ${digest.slice(0, 12)}…, ` +
                      `expected ${entry.bytes} bytes with sha256 ${entry.sha256.slice(0, 12)}…; run \`make web\``);
    }
  }
  if (bytes.length < 8 || String.fromCharCode(...bytes.subarray(4, 8)) !== "TFL3") {
    throw new Error(`${url} is not a LiteRT (.tflite) file`);
  }
  let model;
  try {
    model = await loadAndCompile(bytes, {accelerator: "wasm"});
  } catch (e) {
    throw new Error(`LiteRT.js could not compile ${url}: ${firstLine(e)}`);
  }
  const runner = new Runner(name, entry, model);
  for (const d of runner.inputs) {
    if (d.shape.some((n) => n < 1)) {
      throw new Error(`${url} has a dynamic input shape [${d.shape}]; LiteRT.js needs a fixed batch ` +
                      "(python -m export ... --batch 1)");
    }
  }
  return runner;
}

// Draws 784 values (mapped from `range` to [0, 1]) as a white-on-black digit, one flat square per pixel, so that
// reading the canvas back gives round(255 * value) at every square.
function drawDigit(canvas, values, range = [0, 1]) {
  const small = document.createElement("canvas");
  small.width = SIDE;
  small.height = SIDE;
  const sctx = small.getContext("2d");
  const image = sctx.createImageData(SIDE, SIDE);
  const [lo, hi] = range;
  for (let i = 0; i < PIXELS; i++) {
    const v = Math.round(255 * clamp((values[i] - lo) / (hi - lo), 0, 1));
    image.data[4 * i] = v;
    image.data[4 * i + 1] = v;
    image.data[4 * i + 2] = v;
    image.data[4 * i + 3] = 255;
  }
  sctx.putImageData(image, 0, 0);
  // Read back by the test (and by anyone saving the digit): keep it in CPU memory.
  const ctx = canvas.getContext("2d", {willReadFrequently: true});
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(small, 0, 0, canvas.width, canvas.height);
}

// Runs `work` for the latest request only: changes that arrive while a run is going coalesce into one more run.
// settled() resolves once nothing is pending, which the test awaits after moving a slider. A run that throws puts
// its message on the card.
function coalescing(work, card, name) {
  let pending = false;
  let running = false;
  let waiters = [];
  const kick = async () => {
    pending = true;
    if (running) return;
    running = true;
    try {
      while (pending) {
        pending = false;
        await work();
      }
    } catch (e) {
      pending = false;
      zoo.failed = (zoo.failed || 0) + 1;
      showMessage(card, `${name}: running the model failed: ${firstLine(e)}`);
      updateStatus();
    } finally {
      running = false;
      const done = waiters;
      waiters = [];
      for (const resolve of done) resolve();
    }
  };
  kick.settled = () => (running || pending ? new Promise((resolve) => waiters.push(resolve)) : Promise.resolve());
  return kick;
}

function timingText(runner, what) {
  return `${what} in ${runner.lastMs.toFixed(2)} ms (LiteRT.js, WASM, int8 weights and activations)`;
}

function firstDigit() {
  if (zoo.timings.firstDigitMs === undefined) {
    zoo.timings.firstDigitMs = performance.now();
    updateStatus();
  }
}

function updateStatus() {
  const t = zoo.timings;
  if (t.runtimeMs === undefined) return;
  let text = `LiteRT.js ${zoo.manifest ? zoo.manifest.litertjs : ""} ready (${zoo.wasmBuild} WASM build) ` +
             `${t.runtimeMs.toFixed(0)} ms after navigation start`;
  if (t.firstDigitMs !== undefined) text += `; first digit drawn at ${t.firstDigitMs.toFixed(0)} ms`;
  if (zoo.failed) text += `; ${zoo.failed} model(s) could not be loaded (see below)`;
  setStatus(text, Boolean(zoo.failed));
}

// vae_mnist: one slider per latent dimension.
function decoderSliders(card, runner) {
  const dims = runner.inputs[0].shape.reduce((a, b) => a * b, 1);
  const box = card.querySelector(".sliders");
  const canvas = card.querySelector("canvas.digit");
  const sliders = [];
  for (let i = 0; i < dims; i++) {
    const label = document.createElement("label");
    const input = document.createElement("input");
    Object.assign(input, {type: "range", min: -LATENT_RANGE, max: LATENT_RANGE, step: 0.01, value: 0});
    input.setAttribute("aria-label", `z${i + 1}`);
    input.dataset.index = i;
    const value = document.createElement("output");
    label.append(`z${i + 1}`, input, value);
    box.append(label);
    sliders.push([input, value]);
  }
  const state = {latent: new Float32Array(dims), image: null, seed: 0};
  const decode = coalescing(async () => {
    const z = Float32Array.from(sliders, ([input]) => Number(input.value));
    const [image] = await runner.run([z]);
    drawDigit(canvas, image, runner.entry.output_range);
    state.latent = z;
    state.image = image;
    card.querySelector(".timing").textContent = timingText(runner, "Decoded");
    firstDigit();
  }, card, runner.name);
  const show = () => { for (const [input, value] of sliders) value.textContent = Number(input.value).toFixed(2); };
  const setAll = (z) => {
    sliders.forEach(([input], i) => { input.value = clamp(z[i], -LATENT_RANGE, LATENT_RANGE).toFixed(2); });
    show();
    decode();
  };
  box.addEventListener("input", () => { show(); decode(); });
  card.querySelector("[data-action=random]").addEventListener("click", () => setAll(normals(dims, ++state.seed)));
  card.querySelector("[data-action=zero]").addEventListener("click", () => setAll(new Float32Array(dims)));
  state.settled = decode.settled;
  setAll(normals(dims, ++state.seed));
  return state;
}

// vae2d_mnist: a pad whose position is (z1, z2); its background is the decoder's own map of the plane.
function decoderPad(card, runner) {
  const pad = card.querySelector("canvas.pad2d");
  const canvas = card.querySelector("canvas.digit");
  const coords = card.querySelector(".coords");
  const state = {latent: new Float32Array(2), image: null};
  const map = document.createElement("canvas");
  map.width = pad.width;
  map.height = pad.height;
  const toPad = (z) => [(z[0] + LATENT_RANGE) / (2 * LATENT_RANGE) * pad.width,
                        (LATENT_RANGE - z[1]) / (2 * LATENT_RANGE) * pad.height];
  const fromPad = (x, y) => Float32Array.of(
    clamp(x / pad.width * 2 * LATENT_RANGE - LATENT_RANGE, -LATENT_RANGE, LATENT_RANGE),
    clamp(LATENT_RANGE - y / pad.height * 2 * LATENT_RANGE, -LATENT_RANGE, LATENT_RANGE));

  const paint = () => {
    const ctx = pad.getContext("2d");
    ctx.drawImage(map, 0, 0);
    ctx.strokeStyle = "rgba(255, 255, 255, 0.35)";
    ctx.beginPath();
    ctx.moveTo(pad.width / 2, 0); ctx.lineTo(pad.width / 2, pad.height);
    ctx.moveTo(0, pad.height / 2); ctx.lineTo(pad.width, pad.height / 2);
    ctx.stroke();
    const [x, y] = toPad(state.target || state.latent);
    ctx.strokeStyle = "#ff9800";
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.arc(x, y, 7, 0, 2 * Math.PI);
    ctx.stroke();
    ctx.lineWidth = 1;
  };
  const decode = coalescing(async () => {
    const z = state.target;
    const [image] = await runner.run([z]);
    drawDigit(canvas, image, runner.entry.output_range);
    state.latent = z;
    state.image = image;
    coords.textContent = `z = (${z[0].toFixed(2)}, ${z[1].toFixed(2)})`;
    card.querySelector(".timing").textContent = timingText(runner, "Decoded");
    firstDigit();
  }, card, runner.name);
  const moveTo = (z) => {
    state.target = z;
    paint();
    decode();
  };
  const fromEvent = (e) => {
    const rect = pad.getBoundingClientRect();
    return fromPad((e.clientX - rect.left) * pad.width / rect.width, (e.clientY - rect.top) * pad.height / rect.height);
  };
  pad.addEventListener("pointerdown", (e) => {
    pad.setPointerCapture(e.pointerId);
    moveTo(fromEvent(e));
  });
  pad.addEventListener("pointermove", (e) => { if (pad.hasPointerCapture(e.pointerId)) moveTo(fromEvent(e)); });
  pad.tabIndex = 0;
  pad.addEventListener("keydown", (e) => {
    const step = {ArrowLeft: [-0.1, 0], ArrowRight: [0.1, 0], ArrowUp: [0, 0.1], ArrowDown: [0, -0.1]}[e.key];
    if (!step) return;
    e.preventDefault();
    const z = state.target || state.latent;
    moveTo(Float32Array.of(clamp(z[0] + step[0], -LATENT_RANGE, LATENT_RANGE),
                           clamp(z[1] + step[1], -LATENT_RANGE, LATENT_RANGE)));
  });
  state.toPad = toPad;
  state.settled = decode.settled;

  // The map: a 12 x 12 grid of decoded digits, dimmed, so the pad shows where each digit lives.
  const drawMap = async () => {
    const ctx = map.getContext("2d");
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, map.width, map.height);
    const n = 12;
    const cell = map.width / n;
    const tile = document.createElement("canvas");
    tile.width = SIDE;
    tile.height = SIDE;
    for (let row = 0; row < n; row++) {
      for (let col = 0; col < n; col++) {
        const z = fromPad((col + 0.5) * cell, (row + 0.5) * cell);
        const [image] = await runner.run([z]);
        drawDigit(tile, image, runner.entry.output_range);
        ctx.globalAlpha = 0.55;
        ctx.drawImage(tile, col * cell, row * cell, cell, cell);
        ctx.globalAlpha = 1;
      }
    }
  };
  moveTo(Float32Array.of(0, 0));
  state.mapReady = decode.settled().then(drawMap).then(paint)
    .catch((e) => runtimeLine(`(page) the pad's map could not be drawn: ${firstLine(e)}`));
  return state;
}

// mnist_classifier: a drawing pad, MNIST-style preprocessing (the ink's box scaled to 20 x 20, then centred by its
// centre of mass in 28 x 28), and the ten class probabilities.
function classifierPad(card, runner) {
  const pad = card.querySelector("canvas.drawpad");
  const seen = card.querySelector("canvas.seen");
  const bars = card.querySelector(".bars");
  const prediction = card.querySelector(".prediction");
  const ctx = pad.getContext("2d", {willReadFrequently: true});
  const state = {input: null, probabilities: null, predicted: null};
  const rows = [];
  for (let k = 0; k < 10; k++) {
    const li = document.createElement("li");
    li.innerHTML = `<span class="k">${k}</span><span class="bar"><span></span></span><span class="p"></span>`;
    bars.append(li);
    rows.push(li);
  }
  const clear = () => {
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, pad.width, pad.height);
    seen.getContext("2d").clearRect(0, 0, seen.width, seen.height);
    for (const li of rows) {
      li.querySelector(".bar span").style.width = "0";
      li.querySelector(".p").textContent = "";
      li.classList.remove("top");
    }
    prediction.textContent = "Draw a digit with the mouse or a finger.";
    Object.assign(state, {input: null, probabilities: null, predicted: null});
  };

  const preprocess = () => {
    const {data, width, height} = ctx.getImageData(0, 0, pad.width, pad.height);
    let x0 = width, y0 = height, x1 = -1, y1 = -1;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        if (data[4 * (y * width + x)] > 0) {
          if (x < x0) x0 = x;
          if (x > x1) x1 = x;
          if (y < y0) y0 = y;
          if (y > y1) y1 = y;
        }
      }
    }
    if (x1 < 0) return null;
    const w = x1 - x0 + 1;
    const h = y1 - y0 + 1;
    const scale = 20 / Math.max(w, h);
    const box = document.createElement("canvas");
    box.width = SIDE;
    box.height = SIDE;
    const bctx = box.getContext("2d", {willReadFrequently: true});
    bctx.imageSmoothingEnabled = true;
    bctx.imageSmoothingQuality = "high";
    bctx.drawImage(pad, x0, y0, w, h, (SIDE - w * scale) / 2, (SIDE - h * scale) / 2, w * scale, h * scale);
    const boxed = bctx.getImageData(0, 0, SIDE, SIDE).data;
    let mass = 0, mx = 0, my = 0;
    for (let i = 0; i < PIXELS; i++) {
      const v = boxed[4 * i];
      mass += v;
      mx += v * (i % SIDE);
      my += v * Math.floor(i / SIDE);
    }
    // MNIST's digits have their centre of mass at (14, 14) in pixel indices, on average over the training set.
    const dx = Math.round(SIDE / 2 - mx / mass);
    const dy = Math.round(SIDE / 2 - my / mass);
    const input = new Float32Array(PIXELS);
    for (let y = 0; y < SIDE; y++) {
      for (let x = 0; x < SIDE; x++) {
        const sx = x - dx;
        const sy = y - dy;
        if (sx >= 0 && sx < SIDE && sy >= 0 && sy < SIDE) input[y * SIDE + x] = boxed[4 * (sy * SIDE + sx)] / 255;
      }
    }
    return input;
  };

  const classify = coalescing(async () => {
    const input = preprocess();
    if (!input) return;
    const [probabilities] = await runner.run([input]);
    drawDigit(seen, input);
    let best = 0;
    for (let k = 1; k < probabilities.length; k++) if (probabilities[k] > probabilities[best]) best = k;
    rows.forEach((li, k) => {
      li.querySelector(".bar span").style.width = `${(100 * probabilities[k]).toFixed(1)}%`;
      li.querySelector(".p").textContent = `${(100 * probabilities[k]).toFixed(1)}%`;
      li.classList.toggle("top", k === best);
    });
    prediction.innerHTML = `It is a <b>${best}</b> (${(100 * probabilities[best]).toFixed(1)}%)`;
    Object.assign(state, {input, probabilities, predicted: best});
    card.querySelector(".timing").textContent = timingText(runner, "Classified");
  }, card, runner.name);

  let last = null;
  const point = (e) => {
    const rect = pad.getBoundingClientRect();
    return [(e.clientX - rect.left) * pad.width / rect.width, (e.clientY - rect.top) * pad.height / rect.height];
  };
  const stroke = (from, to) => {
    ctx.strokeStyle = "#fff";
    ctx.fillStyle = "#fff";
    ctx.lineWidth = 20;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.beginPath();
    ctx.moveTo(...from);
    ctx.lineTo(...to);
    ctx.stroke();
  };
  pad.addEventListener("pointerdown", (e) => {
    e.preventDefault();
    pad.setPointerCapture(e.pointerId);
    last = point(e);
    stroke(last, last);
    classify();
  });
  pad.addEventListener("pointermove", (e) => {
    if (last === null || !pad.hasPointerCapture(e.pointerId)) return;
    const p = point(e);
    stroke(last, p);
    last = p;
    classify();
  });
  const end = () => { last = null; classify(); };
  pad.addEventListener("pointerup", end);
  pad.addEventListener("pointercancel", end);
  card.querySelector("[data-action=clear]").addEventListener("click", clear);
  clear();

  state.clear = clear;
  state.settled = classify.settled;
  // Puts a 28 x 28 image on the pad as ink, 10 x larger, and classifies the pad as after a stroke.
  state.paint = (values) => {
    clear();
    const small = document.createElement("canvas");
    small.width = SIDE;
    small.height = SIDE;
    drawDigit(small, values);
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(small, 0, 0, pad.width, pad.height);
    classify();
    return classify.settled();
  };
  return state;
}

// A conditional generator (cgan_mnist's, once shipped): one input is the digit (one-hot, or an int32 label), the
// others are noise drawn from a seeded N(0, 1).
function generatorCard(card, runner) {
  const canvas = card.querySelector("canvas.digit");
  const picker = card.querySelector(".digits");
  const isLabel = (d, count) => /label|class|onehot|digit|cond/i.test(d.name) ||
    (runner.inputs.length > 1 && count === 10);
  const state = {digit: 0, seed: 0, inputs: null, image: null};
  const kinds = runner.inputs.map((d) => {
    const count = d.shape.reduce((a, b) => a * b, 1);
    return {count, label: isLabel(d, count), int: /int/.test(String(d.dtype))};
  });
  for (let k = 0; k < 10; k++) {
    const label = document.createElement("label");
    const radio = document.createElement("input");
    Object.assign(radio, {type: "radio", name: "gen-digit", value: k, checked: k === 0});
    label.append(radio, String(k));
    picker.append(label);
  }
  const generate = coalescing(async () => {
    const arrays = kinds.map((kind, i) => {
      if (kind.label && kind.int) return Int32Array.of(state.digit);
      if (kind.label) {
        const onehot = new Float32Array(kind.count);
        onehot[state.digit] = 1;
        return onehot;
      }
      return normals(kind.count, 1000 * state.seed + i);
    });
    const outputs = await runner.run(arrays);
    const image = outputs.find((o) => o.length === PIXELS) || outputs[0];
    drawDigit(canvas, image, runner.entry.output_range);
    Object.assign(state, {inputs: arrays, image});
    card.querySelector(".timing").textContent = timingText(runner, "Generated");
  }, card, runner.name);
  picker.addEventListener("change", (e) => { state.digit = Number(e.target.value); generate(); });
  card.querySelector("[data-action=sample]").addEventListener("click", () => { state.seed++; generate(); });
  state.settled = generate.settled;
  generate();
  return state;
}

const ROLES = {
  "decoder-sliders": decoderSliders,
  "decoder-pad": decoderPad,
  classifier: classifierPad,
  generator: generatorCard,
};

function cardFor(name, role) {
  if (role === "generator") {
    const section = document.getElementById("generator");
    section.hidden = false;
    section.querySelector(".gen-name").textContent = name;
    const card = section.querySelector(".card");
    card.id = name;
    return card;
  }
  return document.getElementById(name);
}

// The runtime's own log lines (its C++ INFO/WARNING lines, which Emscripten would print with console.error) go to
// zoo.runtimeLog and the page's "runtime log" box instead of the console.
function runtimeLine(text) {
  zoo.runtimeLog.push(String(text));
  const log = document.getElementById("runtime-log");
  if (log) {
    log.querySelector("pre").textContent = zoo.runtimeLog.join("\n");
    log.querySelector("summary").textContent = `LiteRT.js runtime log (${zoo.runtimeLog.length} lines)`;
  }
}
zoo.runtimeLog = [];

// Every model here runs on the WASM (CPU) accelerator, so the WebGPU device that loadLiteRt() creates by default
// would never be used. navigator.gpu is hidden while it loads, so no GPU is woken up and the browser logs no
// adapter search; the runtime's one warning that it got no device goes to the runtime log.
async function loadRuntime(url) {
  const warn = console.warn;
  const shadowed = "gpu" in navigator;
  if (shadowed) Object.defineProperty(navigator, "gpu", {value: undefined, configurable: true});
  console.warn = (...args) => {
    if (String(args[0]).startsWith("Failed to create default WebGPU device")) {
      runtimeLine(`(page) no WebGPU device for LiteRT.js, as intended: ${firstLine(args[1])}`);
    } else {
      warn.apply(console, args);
    }
  };
  window.Module = {print: runtimeLine, printErr: runtimeLine};
  try {
    await loadLiteRt(url);
  } finally {
    console.warn = warn;
    if (shadowed) delete navigator.gpu;
  }
}

async function main() {
  const cards = Array.from(document.querySelectorAll(".card[id]"));
  try {
    zoo.wasmBuild = (await supportsFeature("relaxedSimd")) ? "relaxed-SIMD" : "compat";
    await loadRuntime(new URL("wasm/", document.baseURI).href);
    zoo.timings.runtimeMs = performance.now();
  } catch (e) {
    const text = `The LiteRT.js runtime could not be loaded from wasm/: ${firstLine(e)}. Run \`make web\`.`;
    setStatus(text, true);
    for (const card of cards) showMessage(card, "No runtime: this model cannot run.");
    return;
  }
  try {
    const response = await fetch("models/models.json", {cache: "no-cache"});
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    zoo.manifest = await response.json();
  } catch (e) {
    setStatus(`models/models.json could not be read (${firstLine(e)}): run \`make web\` to build the models.`, true);
    for (const card of cards) showMessage(card, "Not built: run `make web`.");
    return;
  }
  updateStatus();
  const listed = zoo.manifest.models || {};
  for (const card of cards) {
    if (!(card.id in listed)) showMessage(card, `${card.id} is not in models/models.json: run \`make web\`.`);
  }
  zoo.failed = 0;
  await Promise.all(Object.entries(listed).map(async ([name, entry]) => {
    const card = cardFor(name, entry.role);
    if (!card || !ROLES[entry.role]) return;
    try {
      const runner = await loadModel(name, entry);
      zoo.models[name] = Object.assign(ROLES[entry.role](card, runner), {runner, entry});
      await zoo.models[name].settled();
    } catch (e) {
      zoo.failed++;
      showMessage(card, `${name}: ${firstLine(e)}`);
    }
  }));
  updateStatus();
  const about = document.getElementById("about");
  about.textContent = Object.entries(listed).map(([name, e]) =>
    `${name}: ${e.file}, ${(e.bytes / 1024).toFixed(0)} KiB` +
    (e.metric ? `, ${e.metric.name} ${e.metric.exported} (Keras ${e.metric.keras})` : "")).join(" · ");
}

// Per-inference latency in this page: `blocks` blocks of `per` calls of the model on the input it last used, after
// `warmup` calls; each call creates the input tensors, runs, and copies the output back, as the page does on every
// change. Browsers coarsen performance.now() (to 0.1 ms without cross-origin isolation), so calls are timed in
// blocks; the median over blocks of the per-call time shrugs off the odd block another process interrupted.
zoo.bench = async (name, blocks = 50, per = 20, warmup = 20) => {
  const model = zoo.models[name];
  const inputs = model.runner.inputs.map((d, i) => {
    const last = model.inputs ? model.inputs[i] : (model.input || model.latent);
    return last || new Float32Array(d.shape.reduce((a, b) => a * b, 1));
  });
  for (let i = 0; i < warmup; i++) await model.runner.run(inputs);
  const perCall = [];
  const start = performance.now();
  for (let b = 0; b < blocks; b++) {
    const t = performance.now();
    for (let i = 0; i < per; i++) await model.runner.run(inputs);
    perCall.push((performance.now() - t) / per);
  }
  const mean = (performance.now() - start) / (blocks * per);
  perCall.sort((a, b) => a - b);
  return {calls: blocks * per, blocks, median_ms: perCall[Math.floor(blocks / 2)], min_ms: perCall[0], mean_ms: mean,
          inputs: inputs.map((a) => Array.from(a))};
};

main().catch((e) => setStatus(`The page failed: ${firstLine(e)}`, true)).finally(() => readyResolve(zoo));
