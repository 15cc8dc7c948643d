"""Model cards as READMEs: saved_models/NAME/README.md, generated from card.json and exports/export.json.

    from zoo import cards
    text = cards.render_readme(card, exports)        # Markdown in the layout of a Hugging Face model card
    cards.write_readme("saved_models/ae_mnist")      # reads the folder's JSON, writes README.md atomically

Everything in the README comes from the two JSON files (and, for an export whose manifest lacks its size, the
file's size on disk): no generation date, no absolute path, no machine-specific value, so regenerating an unchanged
folder gives the same bytes. Sections with nothing to say are left out; every field is read with .get, so a card
of any family, or one missing its optional fields, renders.

`python bench/model_table.py --write-cards` (and `--write-readme`) regenerates every shipped model's README;
tests/test_model_cards.py fails when a README disagrees with its card.

Light: the standard library and zoo.io (numpy) at import time; no TensorFlow.
"""

import json
from pathlib import Path

from zoo import io

README_FILE = "README.md"
CARD_FILE = "card.json"
EXPORTS_DIR = "exports"
MANIFEST_FILE = "export.json"
REGENERATE = "python bench/model_table.py --write-cards"

# What a family is for: the API each one offers (see README.md and docs/), nothing about quality.
FAMILY_USE = {
    "autoencoder": "Reconstructing an image through a short code, and using the code as features: nearest-neighbour "
                   "retrieval (`zoo.retrieval`), or the pretrained encoder of a classifier "
                   "(`zoo.create_model(\"mnist_classifier\", encoder=\"{name}\")`).",
    "vae": "A generative model of images: sampling new images, encoding an image to its posterior mean, and "
           "estimating an image's log-likelihood.",
    "gan": "Generating images from random codes.",
    "recurrent": "Character-level language modelling: generating text from a prompt, and scoring a text in nats per "
                 "character.",
    "wordvec": "Word vectors: nearest neighbours, similarities and analogies between words of its vocabulary.",
    "energy": "An energy-based model of binary images: hidden features, samples by Gibbs sampling, and "
              "log-likelihood estimates by annealed importance sampling.",
    "classifier": "Classifying images: the most likely class, or the probability of each.",
    "rl": "A policy for a reinforcement-learning environment: the greedy action for an observation.",
    "perceptron": "Teaching: a classic learning rule on a small truth table. It is not meant for real data.",
}

# A few calls of each class's own API, after `model = zoo.load(NAME)`.
CLASS_USAGE = {
    "Autoencoder": ["recon = model.predict(images)        # uint8 (N, 28, 28) images in, the same shape out",
                    "codes = model.encode(images)",
                    "model.decode(codes)"],
    "VAE": ["codes = model.encode(images)         # posterior means",
            "samples = model.sample(16, seed=0)",
            "model.log_likelihood(images)"],
    "ConditionalVAE": ["samples = model.sample(10, labels=list(range(10)), seed=0)",
                       "recon = model.predict({\"image\": images, \"label\": labels})"],
    "GAN": ["samples = model.sample(16, seed=0)"],
    "ConditionalGAN": ["samples = model.sample(10, labels=list(range(10)), seed=0)"],
    "CharLM": ["text = model.generate(\"ROMEO:\", 500, temperature=0.8, seed=0)",
               "model.nats_per_char(text)"],
    "Word2Vec": ["model.most_similar(\"king\", topn=10)     # [(word, cosine)], best first",
                 "model.similarity(\"king\", \"queen\")"],
    "SVDWordVectors": ["model.most_similar(\"king\", topn=10)     # [(word, cosine)], best first",
                       "model.similarity(\"king\", \"queen\")"],
    "RBM": ["hidden = model.encode(images)",
            "samples = model.sample(16, seed=0)"],
    "EncoderClassifier": ["classes = model.classify(images)",
                          "probabilities = model.predict_proba(images)"],
    "DQN": ["action = model.act(obs)              # the greedy action (one observation or a batch)"],
    "Perceptron": ["model.decide(x)                      # the threshold unit's 0/1 decision per row"],
    "MLP": ["model.probability(x)", "model.decide(x)"],
}

DATASET_WHAT = {"mnist": "MNIST's 28×28 grayscale handwritten digits",
                "tinyshakespeare": "tinyshakespeare's text (Shakespeare's plays)"}

# Top-level card fields the sections below render themselves; any other field goes to "Other figures" (objects and
# numbers) or to "How it was made" (text).
HANDLED = {"name", "family", "description", "class", "config", "requires", "parameters", "data", "training",
           "metrics", "versions", "earlier_metrics", "remeasured", "sample", "neighbours", "truth_table", "outputs",
           "corrections", "fine_tuning", "labelled_examples", "unlabelled_examples", "history",
           "sample_grids"}   # sample_grids: where training wrote its grids (runs/, not shipped; sometimes absolute)
LONG_LIST = 10        # a list longer than this is summarized by its length, not printed


# -- formatting ------------------------------------------------------------------------------------------------
def _dict(value):
    return value if isinstance(value, dict) else {}


def _list(value):
    return value if isinstance(value, list) else []


def fmt(value):
    """A value as the card holds it: floats as Python's shortest repr, integers with thousands separators."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return repr(value)
    if value is None:
        return "null"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def count(value):
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else fmt(value)


def cell(text):
    """Text safe inside a Markdown table cell."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").strip()


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def code(text):
    """Inline code, with a backtick-free fence."""
    text = str(text).replace("\n", " ")
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def fence(text, lang=""):
    text = str(text)
    ticks = "```"
    while ticks in text:
        ticks += "`"
    return f"{ticks}{lang}\n{text}\n{ticks}"


def flatten(value, prefix=""):
    """[(dotted key, leaf)] of nested objects, in the card's order; long lists become a note of their length."""
    out = []
    if isinstance(value, dict):
        for k, v in value.items():
            key = f"{prefix}.{k}" if prefix else str(k)
            if isinstance(v, dict) and v:
                out += flatten(v, key)
            else:
                out.append((key, v))
    else:
        out.append((prefix, value))
    return [(k, _leaf(v)) for k, v in out]


def _leaf(v):
    if machine_path(v):
        return "(a path on the machine that wrote the card)"
    if isinstance(v, list) and (len(v) > LONG_LIST or len(fmt(v)) > 120):
        return f"({len(v):,} {'value' if len(v) == 1 else 'values'} in card.json)"
    return fmt(v) if not isinstance(v, str) else v


def machine_path(value):
    """True for a string that is an absolute path on the machine that wrote the card: never copied into a README."""
    return isinstance(value, str) and (value.startswith(("/", "~", "\\")) or value[1:3] in (":\\", ":/"))


def sentence(text):
    """text with a full stop, unless it already ends a sentence."""
    text = str(text).rstrip()
    return text if not text or text[-1] in ".!?" else text + "."


def size_text(n):
    return f"{n:,} bytes ({n / 1024:,.1f} KiB)" if isinstance(n, int) and not isinstance(n, bool) else "not recorded"


def percent(x):
    return f"{x:+.2%}" if isinstance(x, (int, float)) and not isinstance(x, bool) else None


def shape_text(shape):
    dims = ["N" if d in (-1, None) else str(d) for d in _list(shape)]
    return f"({', '.join(dims)})" if dims else "()"


def tensor_text(t):
    t = _dict(t)
    text = f"`{t.get('name', '?')}` {t.get('dtype', '?')} {shape_text(t.get('shape'))}"
    if "scale" in t or "zero_point" in t:
        text += f" (scale {fmt(t.get('scale'))}, zero point {fmt(t.get('zero_point'))})"
    return text


# -- sections --------------------------------------------------------------------------------------------------
def _front_matter(card):
    tags = ["zoo"] + [t for t in (card.get("family"), card.get("class")) if isinstance(t, str) and t]
    lines = ["---", "library_name: keras", "tags:"] + [f"- {t}" for t in dict.fromkeys(tags)]
    dataset = _dict(card.get("data")).get("dataset")
    if isinstance(dataset, str) and dataset:
        lines += ["datasets:", f"- {dataset}"]
    return "\n".join(lines + ["---"])


def _title(card, name):
    parts = [f"# {name}"]
    if card.get("description"):
        parts.append(str(card["description"]))
    return "\n\n".join(parts)


def _intended_use(card, name):
    lines = []
    family, cls = card.get("family"), card.get("class")
    use = FAMILY_USE.get(family)
    if use:
        lines.append(use.replace("{name}", name))
    facts = []
    if family:
        facts.append(f"family `{family}`")
    if cls:
        facts.append(f"class `{cls}`")
    if isinstance(card.get("parameters"), int):
        facts.append(f"{card['parameters']:,} parameters")
    latent = _dict(card.get("config")).get("latent_dim")
    if isinstance(latent, int) and not isinstance(latent, bool):
        facts.append(f"a {latent}-dimensional code")
    if facts:
        lines.append("Model: " + ", ".join(facts) + ".")
    requires = _dict(card.get("requires"))
    if requires:
        lines.append("Requires: " + ", ".join(f"{k} {code(v)}" for k, v in requires.items()) + ".")
    dataset = _dict(card.get("data")).get("dataset")
    if dataset in DATASET_WHAT:
        lines.append(f"Trained and measured on {DATASET_WHAT[dataset]}.")
    if isinstance(card.get("sample"), str) and card["sample"]:
        lines.append("A sample recorded in the card:\n\n" + fence(card["sample"], "text"))
    neighbours = _dict(card.get("neighbours"))
    if neighbours:
        rows = []
        for word, near in neighbours.items():
            pairs = [p for p in _list(near) if isinstance(p, list) and len(p) == 2]
            rows.append([word, ", ".join(f"{p[0]} ({fmt(p[1])})" for p in pairs)])
        lines.append("Nearest neighbours recorded in the card (cosine):\n\n" + table(["word", "neighbours"], rows))
    if not lines:
        return None
    return "## Intended use\n\n" + "\n\n".join(lines)


def _how_to_load(card, name, exports):
    body = ["import zoo", "", f"model = zoo.load({json.dumps(name)})          # pretrained, compiled, safe_mode=True",
            f"card = zoo.model_card({json.dumps(name)})     # card.json as a dict"]
    usage = CLASS_USAGE.get(card.get("class"))
    if usage:
        body += usage
    parts = ["## How to load it", fence("\n".join(body), "python")]
    files = _artifacts(exports)
    litert = [(f, a) for f, a in files if a.get("format") == "litert" or str(f).endswith(".tflite")]
    if litert:
        first, entry = litert[0]
        inputs = ", ".join(f"{_dict(t).get('name', 'x')}=..." for t in _list(entry.get("inputs"))) or "..."
        parts.append("The exported LiteRT files run without TensorFlow or Keras (`pip install ai-edge-litert`):")
        parts.append(fence("\n".join([
            "from ai_edge_litert.interpreter import Interpreter", "",
            f"path = \"saved_models/{name}/{EXPORTS_DIR}/{first}\"",
            "runner = Interpreter(model_path=path).get_signature_runner()",
            f"outputs = runner({inputs})   # a dict of the signature's outputs"]), "python"))
        sigs = []
        for f, a in litert:
            ins = ", ".join(tensor_text(t) for t in _list(a.get("inputs")))
            outs = ", ".join(tensor_text(t) for t in _list(a.get("outputs")))
            if ins or outs:
                sigs.append(f"- `{EXPORTS_DIR}/{f}`: {ins or '?'} → {outs or '?'}")
        if sigs:
            parts.append("Signatures (N is the batch):\n\n" + "\n".join(sigs))
        parts.append("In this repository, `export.litert.load_litert(path)` checks a file first (builtin ops, "
                     f"signature, and its sha256 in `{EXPORTS_DIR}/{MANIFEST_FILE}`).")
    return "\n\n".join(parts)


def _data(card):
    data = _dict(card.get("data"))
    metrics = _dict(card.get("metrics"))
    lines = []
    dataset = data.get("dataset")
    if dataset:
        text = f"- **Data set:** `{dataset}`"
        if data.get("source"):
            text += f", read from {code(data['source'])}"
        if data.get("file_sha256"):
            text += f" (file sha256 `{data['file_sha256']}`)"
        lines.append(text + ".")
    else:
        table_ = _dict(card.get("truth_table"))
        if table_:
            xs = _list(table_.get("x"))
            text = f"- **Data:** no data set; the truth table `{table_.get('name', '?')}`"
            if table_.get("inputs"):
                text += f" (inputs {', '.join(str(i) for i in _list(table_.get('inputs')))})"
            text += f", {len(xs):,} rows"
            lines.append(sentence(text + (f": {table_['note']}" if table_.get("note") else "")))
        elif metrics.get("env_id"):
            lines.append(f"- **Data:** no data set; the agent learns by acting in the environment "
                         f"`{metrics['env_id']}`.")
        elif data or metrics:
            lines.append("- **Data:** no data set recorded.")
    splits = [(s, data.get(f"{s}_examples")) for s in ("train", "val", "test")]
    hashes = _dict(data.get("sha256"))
    rows = [[s, count(n), f"`{hashes[s]}`" if hashes.get(s) else "—"] for s, n in splits if n is not None]
    if data.get("note"):
        lines.append(f"- **Note:** {sentence(data['note'])}")
    trained = data.get("trained_on")
    if isinstance(trained, dict) and trained != data:
        text = "- **Trained on (earlier data):**"
        if trained.get("note"):
            text += f" {sentence(trained['note'])}"
        counts = [f"{trained[k]:,} {what}" for k, what in (("train_examples", "training"),
                                                           ("val_examples", "validation"))
                  if isinstance(trained.get(k), int)]
        if counts:
            text += f" {' and '.join(counts)} examples."
        lines.append(text)
    for key, what in (("labelled_examples", "labelled examples used"),
                      ("unlabelled_examples", "training examples used without their labels")):
        if isinstance(card.get(key), int):
            lines.append(f"- **{what.capitalize()}:** {card[key]:,}")
    if metrics.get("split"):
        extra = ""
        if metrics.get("episodes") is not None:
            extra = f", {count(metrics['episodes'])} episodes"
            if metrics.get("seeds"):
                extra += f" (seeds {metrics['seeds']})"
        lines.append(f"- **Figures measured on:** the {metrics['split']} split{extra}.")
    parts = []
    if lines:
        parts.append("\n".join(lines))
    if rows:
        parts.append(table(["split", "examples", "sha256"], rows))
    truth = _truth_table(card)
    if truth:
        parts.append(truth)
    if not parts:
        return None
    return "## Data and protocol\n\n" + "\n\n".join(parts)


def _truth_table(card):
    t = _dict(card.get("truth_table"))
    xs, ys = _list(t.get("x")), _list(t.get("y"))
    if not xs or len(xs) != len(ys):
        return None
    names = [str(n) for n in _list(t.get("inputs"))]
    width = len(_list(xs[0]))
    if len(names) != width:
        names = [f"x{i + 1}" for i in range(width)]
    outputs = _dict(card.get("outputs"))
    probs = _list(outputs.get("p_y1")) if _list(outputs.get("x")) == xs else []
    header = names + ["y"] + (["model's p(y = 1)"] if len(probs) == len(xs) else [])
    rows = []
    for i, (x, y) in enumerate(zip(xs, ys)):
        row = [fmt(v) for v in _list(x)] + [fmt(y)]
        if len(probs) == len(xs):
            row.append(fmt(probs[i]))
        rows.append(row)
    return table(header, rows)


def _metrics(card):
    metrics = _dict(card.get("metrics"))
    earlier = _dict(card.get("earlier_metrics"))
    old = _dict(earlier.get("metrics"))
    now = dict(flatten({k: v for k, v in metrics.items() if k != "split"}))
    before = dict(flatten({k: v for k, v in old.items() if k != "split"}))
    if not now and not before:
        return None
    keys = list(now) + [k for k in before if k not in now]
    parts = ["## Metrics"]
    remeasured = _dict(card.get("remeasured"))
    intro = f"On the {metrics['split']} split" if metrics.get("split") else "As recorded in card.json"
    if remeasured.get("command"):
        intro += f", re-measured with {code(remeasured['command'])}"
        if remeasured.get("date"):
            intro += f" ({remeasured['date']})"
    parts.append(intro + ".")
    if before:
        rows = [[f"`{k}`", now.get(k, "—"), before.get(k, "—")] for k in keys]
        parts.append(table(["metric", "value", "measured on earlier data"], rows))
        where = earlier.get("data")
        parts.append(sentence("*Measured on earlier data*: the card's figures before it was re-measured"
                              + (f", on: {where}" if where else "")))
    else:
        parts.append(table(["metric", "value"], [[f"`{k}`", now[k]] for k in keys]))
    return "\n\n".join(parts)


def _other_figures(card):
    blocks = []
    for key, value in card.items():
        if key in HANDLED:
            continue
        if isinstance(value, dict) and value:
            blocks.append(f"### {key}\n\n" + table(["figure", "value"], [[f"`{k}`", v] for k, v in flatten(value)]))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            blocks.append(f"- `{key}`: {fmt(value)}")
    if not blocks:
        return None
    # loose numbers first, as one list, then one table per object
    items = [b for b in blocks if b.startswith("- ")]
    tables = [b for b in blocks if not b.startswith("- ")]
    body = (["\n".join(items)] if items else []) + tables
    return "## Other figures in the card\n\n" + "\n\n".join(body)


def _limitations(card, exports):
    data = _dict(card.get("data"))
    metrics = _dict(card.get("metrics"))
    out = []
    trained = data.get("trained_on")
    if isinstance(trained, dict) and trained != data:
        earlier_n, today_n = trained.get("train_examples"), data.get("train_examples")
        text = "Trained on an earlier split of the data"
        if isinstance(earlier_n, int) and isinstance(today_n, int):
            text += f" ({earlier_n:,} training examples), not on the {today_n:,}-example training split listed above"
        text += " (see *Data and protocol*)"
        if isinstance(data.get("test_examples"), int):
            text += f"; the metrics are on the {data['test_examples']:,}-example test split listed above"
        out.append(text + ".")
    dataset = data.get("dataset")
    if dataset:
        what = DATASET_WHAT.get(dataset, f"`{dataset}`")
        out.append(f"Trained only on {what}; its figures say nothing about other data.")
    t = _dict(card.get("truth_table"))
    if not dataset and t:
        n = len(_list(t.get("x")))
        text = f"Toy data: the whole data set is the {n:,}-row truth table `{t.get('name', '?')}`"
        if metrics.get("examples") == n:
            text += f", so its test figures are on the {n:,} rows it was trained on"
        out.append(text + ". It demonstrates a learning rule; it is not a model for real inputs.")
    if not dataset and not t and metrics.get("env_id"):
        out.append(f"Trained and evaluated only in `{metrics['env_id']}`.")
    if card.get("family") == "gan":
        shown = [k for k in ("d_real", "d_fake", "d_accuracy") if k in metrics]
        if shown:
            out.append(f"The card's metrics ({', '.join(shown)}) describe the discriminator on test images and "
                       "samples, not the quality of the samples (`python bench/gan_modes.py` measures that).")
    quantized = sorted({str(a.get("quantize")) for _, a in _artifacts(exports)
                        if a.get("quantize") not in (None, "none", "float32")})
    if quantized:
        out.append(f"The exported files are quantized ({', '.join(quantized)}): their task metric differs from the "
                   "Keras model's by the relative difference listed under *Export files*.")
    failed = [f for f, a in _artifacts(exports) if a.get("passed") is False]
    if failed:
        out.append(f"Export checks failed for: {', '.join(f'`{f}`' for f in failed)}.")
    if not metrics:
        out.append("The card records no metrics.")
    if not out:
        return None
    return "## Limitations\n\n" + "\n".join(f"- {line}" for line in out)


def _how_made(card):
    training = _dict(card.get("training"))
    parts = []
    if training.get("command"):
        parts.append(fence(training["command"], "sh"))
    rows = []
    for k, v in training.items():
        if k in ("command", "final"):
            continue
        if isinstance(v, list):
            if v:
                rows.append([f"`{k}`", ", ".join(fmt(x) for x in v)])
        elif not isinstance(v, dict):
            rows.append([f"`{k}`", fmt(v)])
    if rows:
        parts.append(table(["setting", "value"], rows))
    final = _dict(training.get("final"))
    if final:
        parts.append("Last epoch's logs: " + ", ".join(f"{k} {fmt(v)}" for k, v in final.items()) + ".")
    fine = _dict(card.get("fine_tuning"))
    if fine:
        parts.append("Fine-tuning recipe: " + ", ".join(f"{k} {_leaf(v)}" for k, v in fine.items()
                                                        if not isinstance(v, dict) and v != []) + ".")
    history = _dict(card.get("history"))
    if history:
        lengths = {len(v) for v in history.values() if isinstance(v, list)}
        n = f" ({', '.join(f'{x:,}' for x in sorted(lengths))} epochs)" if lengths else ""
        parts.append(f"Per-epoch training history ({', '.join(f'`{k}`' for k in history)}): `history` in "
                     f"card.json{n}.")
    notes = []
    for k, v in card.items():
        if k in HANDLED and k != "corrections":
            continue
        if isinstance(v, str) and v and not machine_path(v):
            notes.append(f"- **{k}:** {sentence(v)}")
        elif isinstance(v, list) and v and all(isinstance(x, str) for x in v):
            notes += [f"- **{k}:** {sentence(x)}" for x in v if not machine_path(x)]
    if notes:
        parts.append("\n".join(notes))
    versions = _dict(card.get("versions"))
    if versions:
        parts.append("Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + ".")
    remeasured = _dict(card.get("remeasured"))
    if remeasured.get("command"):
        again = _dict(remeasured.get("versions"))
        text = f"Metrics re-measured with {code(remeasured['command'])}"
        if remeasured.get("date"):
            text += f" on {remeasured['date']}"
        if again and again == versions:
            text += ", with the same versions"
        elif again:
            text += ", with " + ", ".join(f"{k} {v}" for k, v in again.items())
        parts.append(text + ".")
    if not parts:
        return None
    return "## How it was made\n\n" + "\n\n".join(parts)


def _artifacts(exports):
    """[(file name, manifest entry)] in the manifest's order."""
    artifacts = _dict(_dict(exports).get("artifacts"))
    return [(str(_dict(a).get("file") or f), _dict(a)) for f, a in artifacts.items()]


def _metric_text(m):
    m = _dict(m)
    if not m:
        return "—"
    text = f"{m.get('name', 'metric')}: {fmt(m.get('exported'))} vs {fmt(m.get('keras'))} in Keras"
    rel = percent(m.get("relative_diff"))
    return text + (f" ({rel})" if rel else "")


def _exports(exports, folder=None):
    files = _artifacts(exports)
    if not files:
        return None
    exports = _dict(exports)
    parts = ["## Export files"]
    intro = f"Listed in `{EXPORTS_DIR}/{MANIFEST_FILE}`"
    if exports.get("source_sha256"):
        intro += f"; made from `model.keras` with sha256 `{exports['source_sha256']}`"
    parts.append(intro + ".")
    rows, conditions = [], []
    for f, a in files:
        size = a.get("size_bytes")
        if not isinstance(size, int) and folder is not None and (Path(folder) / EXPORTS_DIR / f).is_file():
            size = (Path(folder) / EXPORTS_DIR / f).stat().st_size
            size_col = size_text(size) + ", measured from the file"
        else:
            size_col = size_text(size)
        diff = a.get("max_abs_diff")
        diff = f"{diff:.1e}" if isinstance(diff, float) else fmt(diff) if diff is not None else "—"
        passed = {True: "passed", False: "FAILED"}.get(a.get("passed"), "—")
        rows.append([f"`{f}`", a.get("part") or "—", a.get("format") or "—", a.get("quantize") or "—",
                     a.get("io") or "—", size_col, diff, _metric_text(a.get("metric")), passed])
        context = [f"{k} {fmt(v)}" for k, v in _dict(a.get("metric")).items()
                   if k not in ("name", "exported", "keras", "relative_diff")]
        if context:
            conditions.append(sentence(f"- `{f}`: {_dict(a.get('metric')).get('name', 'metric')} with "
                                       + "; ".join(context)))
    parts.append(table(["file", "part", "format", "quantization", "io", "size", "max abs diff vs Keras",
                        "metric through the file vs Keras", "checks"], rows))
    if conditions:
        parts.append("How each file's metric was measured:\n\n" + "\n".join(conditions))
    commands = [c for c in _list(exports.get("commands")) if isinstance(c, str)]
    if commands:
        parts.append("Made with:\n\n" + fence("\n".join(commands), "sh"))
    return "\n\n".join(parts)


# -- the README ------------------------------------------------------------------------------------------------
def render_readme(card, exports=None, folder=None):
    """README.md's text for a card (card.json as a dict) and its export manifest (export.json as a dict, or None).

    Deterministic: the same inputs give the same text. `folder` is only read for the size of an exported file
    whose manifest entry does not record it."""
    card = _dict(card)
    name = str(card.get("name") or "model")
    sections = [
        _front_matter(card),
        f"<!-- Generated from card.json and {EXPORTS_DIR}/{MANIFEST_FILE} by zoo.cards ({REGENERATE}); "
        "edit those, not this file. -->",
        _title(card, name),
        _intended_use(card, name),
        _how_to_load(card, name, exports),
        _data(card),
        _metrics(card),
        _other_figures(card),
        _limitations(card, exports),
        _how_made(card),
        _exports(exports, folder),
    ]
    return "\n\n".join(s for s in sections if s) + "\n"


def read_folder(folder):
    """(card, exports or None) from a model folder's card.json and exports/export.json."""
    folder = Path(folder)
    card = io.read_json(folder / CARD_FILE, "model card")
    manifest = folder / EXPORTS_DIR / MANIFEST_FILE
    exports = io.read_json(manifest, "export manifest") if manifest.is_file() else None
    return card, exports


def write_readme(folder):
    """Write folder/README.md from its card.json (and exports/export.json) atomically; returns its path.

    An unchanged README is left untouched (same bytes, same mtime)."""
    folder = Path(folder)
    card, exports = read_folder(folder)
    text = render_readme(card, exports, folder=folder).encode()
    path = folder / README_FILE
    if not (path.is_file() and path.read_bytes() == text):
        io.write_bytes_atomic(path, text)
    return path
