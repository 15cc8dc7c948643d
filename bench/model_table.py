"""The documentation's generated tables, from the shipped cards (saved_models/*/card.json) and the bench results
(bench/results/*.json).

    python bench/model_table.py                  # the model table as JSON rows
    python bench/model_table.py --markdown       # the model table as Markdown
    python bench/model_table.py --print          # every block --write-readme would write, markers included
    python bench/model_table.py --write-readme   # replace each block between its markers, wherever they are

--write-readme writes into README.md and docs/*.md: each block goes into whichever of those files holds its
`<!-- NAME -->` ... `<!-- /NAME -->` markers, and a block whose markers no file holds is left out (stderr says so).
Today the markers are in these files:
- README.md, MODELS-TABLE: one row per shipped model, its headline test figure and what its card adds;
- docs/autoencoders.md, DENOISING-TABLE: dae_mnist's card, noisy input against denoised output;
- docs/autoencoders.md, REGULARIZED-BASELINES-TABLE: each regularized autoencoder against its twin trained without
  the regularizer;
- docs/benchmarks.md, VAE-THROUGHPUT-TABLE: bench/results/vae_throughput.json;
- no file, SEMISUPERVISED-TABLE: bench/results/semisupervised.json and semisupervised_probe.json (the table in
  docs/classifier.md is written by hand: it adds the RBM and DBN rows of bench/energy_dbn.py).

Cards describe one model; comparisons with another trained model come from bench/results/
regularized_baselines.json (bench/regularized_baselines.py). Where that file lacks a model, or is a --quick run,
the comparison the card held before the move (card["history_of_comparisons"]) stands in; stderr says which.
"""

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"

HEADLINES = [  # (metric key in card["metrics"], label), first present wins
    ("nll_iwae", "test NLL (nats, IWAE k={k})"),
    ("nats_per_char", "validation nats/char"),
    ("log_likelihood", "test log-likelihood (nats, AIS)"),
    ("relatedness_mrr", "relatedness MRR (test pairs)"),
    ("accuracy", "test accuracy"),
    ("squared_error_per_image", "test squared error per image"),
    ("mean_return", "mean return over {episodes} held-out episodes"),
]


def trained_on(c):
    """The card's data record of what the model was trained on (a re-measured card keeps it as trained_on)."""
    d = c.get("data", {})
    return d.get("trained_on", d)


def data_label(c):
    d = c.get("data", {})
    if d.get("dataset") == "mnist":
        old = " (trained on an earlier split)" if "trained_on" in d else ""
        return f"MNIST {trained_on(c)['train_examples']:,} train{old} / {d['test_examples']:,} test"
    if d.get("dataset") == "tinyshakespeare":
        return f"tinyshakespeare {d['train_examples']:,} / {d['val_examples']:,} chars"
    return d.get("description") or c.get("metrics", {}).get("data") or (
        f"{c['metrics']['examples']} examples" if "examples" in c.get("metrics", {}) else "—")


def read_json(path):
    path = Path(path)
    return json.loads(path.read_text()) if path.is_file() else None


def cards():
    return [json.loads(p.read_text()) for p in sorted((ROOT / "saved_models").glob("*/card.json"))]


def card(name):
    return read_json(ROOT / "saved_models" / name / "card.json")


# -- comparisons: the bench JSON first, the card's history second ------------------------------------------------
_BASELINES = None
_SAID = set()


def say_once(message):
    if message not in _SAID:
        _SAID.add(message)
        print(message, file=sys.stderr)


def baselines():
    """bench/results/regularized_baselines.json's models, or {} when it is missing or a --quick smoke run."""
    global _BASELINES
    if _BASELINES is None:
        data = read_json(RESULTS / "regularized_baselines.json") or {}
        if data.get("quick"):
            print("bench/results/regularized_baselines.json is a --quick run; ignored", file=sys.stderr)
            data = {}
        _BASELINES = data.get("models", {})
    return _BASELINES


def history_mark(test_images, c):
    """" (history: N-image test split)" when a bench result was measured on another test split than the card's
    figures, so a row never passes an old figure off as a current one."""
    current = c.get("data", {}).get("test_examples")
    return "" if test_images in (None, current) else f" (history: {test_images:,}-image test split)"


def comparison(c, key):
    """The comparison `key` ("sparsity", "contraction", "layerwise_pretraining") for card c, or None; the bench's
    figures carry "history" when its test split is not the card's."""
    bench = baselines().get(c["name"], {})
    if key in bench:
        say_once(f"{c['name']}: {key} from bench/results/regularized_baselines.json")
        tested = (read_json(RESULTS / "regularized_baselines.json") or {}).get("data", {}).get("test")
        return {**bench[key], "history": history_mark(tested, c)}
    old = c.get("history_of_comparisons", {})
    if key in old:
        say_once(f"{c['name']}: {key} from its card's history_of_comparisons (no bench result)")
        return old[key]
    return None


# -- the model table ----------------------------------------------------------------------------------------------
def rows():
    out = []
    for c in cards():
        metrics = c.get("metrics", {})
        key, label = next(((k, l) for k, l in HEADLINES if k in metrics), (None, None))
        headline = None
        if key:
            headline = {"metric": label.format(k=metrics.get("num_samples", ""), episodes=metrics.get("episodes", "")),
                        "value": metrics[key]}
        extra = []
        if "pca_baseline" in c:
            extra.append(f"PCA k={c['pca_baseline']['k']}: {c['pca_baseline']['squared_error_per_image']:.2f}")
        if "pca_principal_angles_deg" in c:
            a = c["pca_principal_angles_deg"]
            extra.append(f"angles to PCA subspace: mean {a['mean']:.1f}°, max {a['max']:.1f}°")
        for k in ("elbo", "active_units"):
            if k in metrics:
                extra.append(f"{k}: {metrics[k]}")
        extra += family_figures(c)
        out.append({"name": c["name"], "family": c["family"], "parameters": c["parameters"],
                    "data": data_label(c),
                    "headline": headline, "also": "; ".join(extra)})
    return out


def family_figures(c):
    """The figures each model is about: its card's, and its comparison with a twin where there is one."""
    out = []
    metrics = c.get("metrics", {})
    if c.get("family") == "classifier" and "error" in metrics:
        encoder = c.get("requires", {}).get("encoder") or c.get("training", {}).get("encoder", "its")
        # the fine-tuning hook writes labelled_examples at the card's top level
        labels = c.get("labelled_examples", trained_on(c)["train_examples"])
        which = "all" if labels == trained_on(c)["train_examples"] else f"{labels:,}"
        unlabelled = (f", and on {c['unlabelled_examples']:,} images without labels by virtual adversarial training"
                      if c.get("unlabelled_examples") else "")
        out.append(f"test error {metrics['error']:.2%} ({encoder} encoder fine-tuned on {which} labels{unlabelled})")
    if c.get("family") == "gan":
        # the GAN measures live in bench/gan_modes.py's JSON (the judge is another model), not in the card
        gm = read_json(RESULTS / "gan_modes.json") or {}
        old = history_mark(gm.get("test_images"), c)
        m = gm.get("mnist", {}).get(c["name"]) or {}
        if "frechet_distance_test" in m:
            vae = gm["mnist"].get("vae_mnist", {}).get("frechet_distance_test")
            out.append(f"Fréchet distance to test {m['frechet_distance_test']:.1f} (vae_mnist {vae:.1f}; "
                       f"python bench/gan_modes.py){old}")
        if "label_agreement" in m:
            out.append(f"label agreement {m['label_agreement']:.1%}{old}")
        st = gm.get("stacked_mnist", {}).get(c["name"]) or {}
        if "modes_covered" in st:
            out.append(f"Stacked MNIST: {st['modes_covered']} of 1,000 modes, KL {st['kl_to_uniform']:.3f} "
                       f"(python bench/gan_modes.py){old}")
    if "tied_weights" in c:
        t = c["tied_weights"]
        out.append(f"{t['parameters']:,} parameters tied vs {t['untied_equivalent_parameters']:,} untied")
    lp = comparison(c, "layerwise_pretraining")
    if lp:
        out.append(f"layer-wise pretrained {lp['with_pretraining']['test_squared_error_per_image']:.2f} vs "
                   f"end to end {lp['without_pretraining']['test_squared_error_per_image']:.2f} "
                   f"({lp['without_pretraining']['epochs']} epochs){lp.get('history', '')}")
    if "denoising" in c:
        r = c["denoising"]["results"]
        best = ", ".join(f"{k.replace('_', ' ')}: {v['noisy_input']['psnr_db']:.1f} → "
                         f"{v['denoised']['psnr_db']:.1f} dB" for k, v in r.items() if k.endswith("0.25"))
        out.append(f"PSNR noisy → denoised: {best}")
    sp = comparison(c, "sparsity")
    if sp:
        s, u = sp["sparse"], sp["unregularized"]
        out.append(f"mean activation {s['mean_activation']:.3f} vs {u['mean_activation']:.3f} unregularized; "
                   f"units near zero {s['fraction_near_zero']:.0%} vs {u['fraction_near_zero']:.0%}{sp.get('history', '')}")
    elif "sparsity" in c:
        s = c["sparsity"]
        out.append(f"mean activation {s['mean_activation']:.3f}; units near zero {s['fraction_near_zero']:.0%}")
    co = comparison(c, "contraction")
    if co:
        out.append(f"encoder Jacobian ‖J‖_F {co['contractive']['mean_jacobian_frobenius_norm']:.1f} vs "
                   f"{co['plain_same_architecture']['mean_jacobian_frobenius_norm']:.1f} for the same AE unregularized"
                   f"{co.get('history', '')}")
    elif "contraction" in c:
        out.append(f"encoder Jacobian ‖J‖_F {c['contraction']['mean_jacobian_frobenius_norm']:.1f}")
    return out


def markdown(table):
    lines = ["| model | family | parameters | data | headline metric | also |", "|---|---|---|---|---|---|"]
    for r in table:
        h = r["headline"]
        hv = f"{h['metric']}: **{h['value']:.4g}**" if h else ""
        lines.append(f"| `{r['name']}` | {r['family']} | {r['parameters']:,} | {r['data']} | {hv} | {r['also']} |")
    return "\n".join(lines)


# -- the other tables ---------------------------------------------------------------------------------------------
def denoising_markdown():
    c = card("dae_mnist")
    if not c or "denoising" not in c:
        return None
    lines = ["| noise | noisy input: squared error / PSNR | denoised: squared error / PSNR |", "|---|---|---|"]
    for k, v in c["denoising"]["results"].items():
        n, d = v["noisy_input"], v["denoised"]
        lines.append(f"| {k.replace('_', ' ')} | {n['squared_error_per_image']:.1f} / {n['psnr_db']:.1f} dB | "
                     f"{d['squared_error_per_image']:.1f} / {d['psnr_db']:.1f} dB |")
    return "\n".join(lines)


PROBES = (("uniform_noise", "uniform noise"), ("binary_noise_p0.2", "binary noise p=0.2"),
          ("pixel_shuffled_digits", "pixel-shuffled digits"))


def regularized_markdown():
    lines = ["| model | figure (test split) | as shipped | twin without the regularizer |", "|---|---|---|---|"]
    n = len(lines)
    for name, key in (("sparse_ae_mnist", "sparsity"), ("cae_mnist", "contraction"),
                      ("stacked_tied_ae_mnist", "layerwise_pretraining")):
        c = card(name)
        cmp = comparison(c, key) if c else None
        if not cmp:
            continue
        first = f"`{name}`{cmp.get('history', '')}"
        if key == "sparsity":
            s, u = cmp["sparse"], cmp["unregularized"]
            lines.append(f"| {first} | mean code activation | {s['mean_activation']:.3f} | "
                         f"{u['mean_activation']:.3f} |")
            lines.append(f"| | code values below {s.get('near_zero_threshold', 0.01)} | "
                         f"{s['fraction_near_zero']:.0%} | {u['fraction_near_zero']:.0%} |")
            se_s, se_u = s["squared_error_per_image"], u["squared_error_per_image"]
            lines.append(f"| | squared error per image, test digits | {se_s['test_digits']:.2f} | "
                         f"{se_u['test_digits']:.2f} |")
            for probe, label in PROBES:
                lines.append(f"| | relative error, {label} | {s['relative_error'][probe]:.2f} | "
                             f"{u['relative_error'][probe]:.2f} |")
        elif key == "contraction":
            a, b = cmp["contractive"], cmp["plain_same_architecture"]
            lines.append(f"| {first} | encoder ‖J‖_F, mean over {cmp.get('images', 1000):,} test images | "
                         f"{a['mean_jacobian_frobenius_norm']:.1f} | {b['mean_jacobian_frobenius_norm']:.1f} |")
            lines.append(f"| | squared error per image | {a['test_squared_error_per_image']:.2f} | "
                         f"{b['test_squared_error_per_image']:.2f} |")
        else:
            w, wo = cmp["with_pretraining"], cmp["without_pretraining"]
            total = w.get("total_epochs", wo["epochs"])
            lines.append(f"| {first} | squared error per image; layer-wise pretraining "
                         f"({w['layerwise_epochs_per_layer']} epochs per layer, then {w['fine_tune_epochs']} of "
                         f"fine-tuning) vs end to end ({total} epochs) | {w['test_squared_error_per_image']:.2f} | "
                         f"{wo['test_squared_error_per_image']:.2f} |")
    return "\n".join(lines) if len(lines) > n else None


def semisupervised_markdown():
    fine = read_json(RESULTS / "semisupervised.json")
    probe = read_json(RESULTS / "semisupervised_probe.json")
    columns = []  # (label, rows of a result, size)
    for result, kind in ((fine, "fine-tuned"), (probe, "frozen probe")):
        if not result:
            continue
        sizes = sorted({s for r in result["rows"].values() for s in r},
                       key=lambda s: (s == "all", 0 if s == "all" else int(s)))
        for s in sizes:
            label = f"all {result['train_examples']:,}" if s == "all" else f"{int(s):,}"
            columns.append((f"{kind}, {label}", result["rows"], s))
    if not columns:
        return None
    names = list(dict.fromkeys(n for _, rows_, _ in columns for n in rows_))
    lines = ["| encoder | " + " | ".join(c[0] for c in columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for name in names:
        cells = []
        for _, rows_, s in columns:
            v = rows_.get(name, {}).get(s)
            cells.append(f"{v['mean']:.3f} ± {v['std']:.3f}" if v else "")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def throughput_markdown():
    r = read_json(RESULTS / "vae_throughput.json")
    if not r:
        return None
    v = r.get("versions", {})
    lines = ["| trainer | samples/s |", "|---|---|"]
    keras_major = v.get("keras", "?").split(".")[0]
    tf_minor = ".".join(v.get("tensorflow", "?").split(".")[:2])
    entries = [(f"zoo (Keras {keras_major}, TensorFlow {tf_minor})", r["zoo"]["samples_per_s"]),
               ("zoo with `jit_compile=True` (XLA)", r["zoo_jit_compile"]["samples_per_s"])]
    if r.get("pythae", {}).get("available"):
        entries += [("Pythae `TrainingPipeline`", r["pythae"]["samples_per_s"]),
                    ("the same Pythae model in a bare PyTorch loop", r["pythae"]["bare_torch_loop_samples_per_s"])]
    best = max(e[1] for e in entries[:2])
    for label, rate in entries:
        text = f"{rate:,.0f}"
        lines.append(f"| {label} | {f'**{text}**' if rate == best else text} |")
    return "\n".join(lines)


BLOCKS = {
    "MODELS-TABLE": lambda: markdown(rows()),
    "DENOISING-TABLE": denoising_markdown,
    "REGULARIZED-BASELINES-TABLE": regularized_markdown,
    "SEMISUPERVISED-TABLE": semisupervised_markdown,
    "VAE-THROUGHPUT-TABLE": throughput_markdown,
}


def blocks():
    """{marker: Markdown} for every block that has something to show."""
    out = {}
    for marker, make in BLOCKS.items():
        text = make()
        if text:
            out[marker] = f"<!-- {marker} -->\n{text}\n<!-- /{marker} -->"
    return out


def doc_files():
    """The files that may hold generated blocks: README.md, then docs/*.md."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def write_readme(paths, generated):
    """Replace each generated block between its markers, in whichever of `paths` (one path or several) holds them;
    a file is rewritten only when its text changes. Returns ({marker: [paths holding it]}, [markers no file holds])."""
    paths = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
    written = {}
    for path in paths:
        text = old = path.read_text()
        for marker, block in generated.items():
            pattern = rf"<!-- {re.escape(marker)} -->.*?<!-- /{re.escape(marker)} -->"
            if re.search(pattern, text, flags=re.S):
                text = re.sub(pattern, lambda m: block, text, count=1, flags=re.S)
                written.setdefault(marker, []).append(path)
        if text != old:
            path.write_text(text)
    return written, [m for m in generated if m not in written]


def write_cards():
    """saved_models/NAME/README.md for every shipped model, generated from its card.json and exports/export.json."""
    sys.path.insert(0, str(ROOT))
    from zoo import cards as model_cards

    written = [model_cards.write_readme(p.parent) for p in sorted((ROOT / "saved_models").glob("*/card.json"))]
    print(f"saved_models: wrote README.md for {len(written)} models", file=sys.stderr)
    return written


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--markdown", action="store_true", help="the model table as Markdown")
    mode.add_argument("--print", dest="print_blocks", action="store_true",
                      help="every block --write-readme would write, with its markers")
    mode.add_argument("--write-readme", action="store_true",
                      help="replace the blocks in README.md and docs/*.md, wherever their markers are")
    mode.add_argument("--write-cards", action="store_true",
                      help="write saved_models/NAME/README.md for every shipped model (--write-readme does it too)")
    args = ap.parse_args(argv)
    if args.write_cards or args.write_readme:  # the model cards, from the same cards as the model table
        write_cards()
        if args.write_cards:
            return
    if args.write_readme:
        generated = blocks()
        written, missing = write_readme(doc_files(), generated)
        for marker in missing:
            print(f"neither README.md nor docs/*.md has <!-- {marker} --> ... <!-- /{marker} --> markers; "
                  "that block was not written", file=sys.stderr)
        for marker, paths in written.items():
            print(f"{marker}: wrote {', '.join(p.relative_to(ROOT).as_posix() for p in paths)}", file=sys.stderr)
        if not written:
            print("wrote nothing", file=sys.stderr)
    elif args.print_blocks:
        print("\n\n".join(blocks().values()))
    elif args.markdown:
        print(markdown(rows()))
    else:
        print(json.dumps(rows(), indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
