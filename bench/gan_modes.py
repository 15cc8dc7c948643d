"""Mode coverage and sample quality of the GAN family, judged by mnist_classifier.

    ZOO_DATA_DIR=... python bench/gan_modes.py [--stacked-twin runs/dcgan_stacked_mnist_nombd_24]
        [--extra-stacked LABEL=FOLDER ...] [--samples 5000]

MNIST (dcgan_mnist, cgan_mnist, with vae_mnist and the training split as references):
- label histogram: the digits mnist_classifier reads in the samples;
- Fréchet distance in mnist_classifier's penultimate features (its 256 ReLU units) against the test split
  (2,690 images): the FID formula with the classifier in place of Inception;
- cgan label agreement: the share of samples, 1,000 per requested digit, that the classifier gives the
  requested label;
- the published int8 LiteRT generators, run through ai_edge_litert on the same z, on the same measures.

Stacked MNIST (dcgan_stacked_mnist and its twin trained without minibatch discrimination, same net, recipe
and seed, and any other runs named with --extra-stacked: other budgets, unrolling, packing): 26,000 samples, each plane classified, mode = 100 R + 10 G + B; modes covered (of 1,000) and
KL(mode histogram || uniform) in nats, as in the VEEGAN and PacGAN papers. Real stacked test triples give
the floor the judge's errors leave.

Writes bench/results/gan_modes.json and the figures gan_*.png beside it; prints the JSON.
"""

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

RESULTS = ROOT / "bench" / "results"


def tflite_generate(path, z, onehot=None):
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_path=str(path), num_threads=1).get_signature_runner()
    out = []
    for i in range(0, len(z), 500):
        feed = {"code": z[i:i + 500]}
        if onehot is not None:
            feed["label_onehot"] = onehot[i:i + 500]
        out.append(np.asarray(runner(**feed)["image"]))
    return np.concatenate(out).reshape(len(z), 28, 28)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--samples", type=int, default=5000, help="samples per model for the Fréchet distance")
    p.add_argument("--stacked-twin", default=str(ROOT / "runs" / "dcgan_stacked_mnist_nombd_24"),
                   help="folder of the stacked model trained without minibatch discrimination")
    p.add_argument("--extra-stacked", nargs="*", default=[], metavar="LABEL=FOLDER",
                   help="more trained stacked models to measure (other budgets)")
    args = p.parse_args(argv)

    import zoo
    from zoo import data as zdata, figures, registry
    from zoo.families import gan

    clf = zoo.load(gan.JUDGE)
    splits = zdata.splits("mnist")
    x_test, y_test = splits["test"]
    test_features = gan.features(clf, x_test)
    n = args.samples
    result = {"judge": gan.JUDGE, "judge_test_accuracy": round(float(np.mean(clf.classify(x_test) == y_test)), 4),
              "test_images": int(len(x_test)), "samples": n, "mnist": {}, "stacked_mnist": {}}

    def mnist_row(images, extra=None):
        seen = clf.classify(images)
        return {"frechet_distance_test": round(gan.frechet_distance(gan.features(clf, images), test_features), 3),
                "label_histogram": np.bincount(seen, minlength=10).tolist(), "images": int(len(images)),
                **(extra or {})}

    x_train = splits["train"][0]
    result["mnist"]["train_split"] = mnist_row(x_train, {"note": "the 15,000 training images themselves"})
    vae = zoo.load("vae_mnist")
    result["mnist"]["vae_mnist"] = mnist_row(vae.sample(n, seed=0), {"note": "pixel probabilities of the decoder"})
    labels = np.arange(n) % 10
    for name in ("dcgan_mnist", "cgan_mnist"):
        if not (registry.saved_models_dir() / name / "model.keras").is_file():
            continue
        model = zoo.load(name)
        z = model.prior(n, seed=0)
        onehot = np.eye(10, dtype=np.float32)[labels] if model.conditional else None
        images = model.generate(z, labels) if model.conditional else model.generate(z)
        row = mnist_row(images)
        if model.conditional:
            row["label_agreement"] = round(float(np.mean(clf.classify(images) == labels)), 4)
        int8 = registry.saved_models_dir() / name / "exports" / "generator_int8.tflite"
        if int8.is_file():
            lite = tflite_generate(int8, z, onehot)
            lite_row = mnist_row(lite)
            if model.conditional:
                lite_row["label_agreement"] = round(float(np.mean(clf.classify(lite) == labels)), 4)
            lite_row.pop("label_histogram")
            row["int8_litert"] = lite_row
        result["mnist"][name] = row
        if model.conditional:
            grid_labels = np.repeat(np.arange(10), 10)
            figures.save(figures.image_grid(model.sample(100, labels=grid_labels, seed=1), cols=10,
                                            row_labels=[f"digit {k}" for k in range(10)],
                                            title=f"{name}: 10 samples per requested digit"),
                         RESULTS / "gan_cgan_per_class.png")
        else:
            seen = clf.classify(images)
            rows = [images[seen == k][:10] for k in range(10)]
            rows = [np.concatenate([r, np.zeros((10 - len(r), 28, 28), np.float32)]) for r in rows]
            figures.save(figures.image_grid(np.concatenate(rows), cols=10,
                                            row_labels=[f"seen as {k}" for k in range(10)],
                                            title=f"{name}: samples, one row per digit mnist_classifier reads"),
                         RESULTS / "gan_dcgan_per_class.png")

    # -- Stacked MNIST ----------------------------------------------------------------------------------------
    real, _ = gan.stacked_images(x_test, seed=0, n=gan.STACKED_SAMPLES)
    stats, _ = gan.mode_statistics(gan.stacked_modes(clf, real))
    result["stacked_mnist"]["real_test_triples"] = {**stats, "note": "random triples of test digits: the judge's floor"}
    stacked = {"dcgan_stacked_mnist": registry.saved_models_dir() / "dcgan_stacked_mnist",
               "without_minibatch_discrimination": Path(args.stacked_twin),
               **{item.split("=", 1)[0]: Path(item.split("=", 1)[1]) for item in args.extra_stacked}}
    hists = {}
    for label, folder in stacked.items():
        if not (folder / "model.keras").is_file():
            continue
        model = zoo.load(folder)
        stats, counts = gan.mode_statistics(gan.stacked_modes(clf, model.sample(gan.STACKED_SAMPLES, seed=0)))
        card = json.loads((folder / "card.json").read_text())
        result["stacked_mnist"][label] = {**stats, "minibatch_kernels": model.get_config()["minibatch_kernels"],
                                          "unroll_steps": model.get_config()["unroll_steps"],
                                          "pack": model.get_config().get("pack", 1),
                                          "epochs": card["training"]["epochs"],
                                          "seconds": card["training"]["seconds"], "folder": str(folder)}
        hists[label] = (counts, stats)
        if label in ("dcgan_stacked_mnist", "without_minibatch_discrimination"):
            kind = "mbd" if model.get_config()["minibatch_kernels"] else "plain"
            figures.save(figures.image_grid(model.sample(64, seed=1), cols=8, title=f"{label}: 64 samples"),
                         RESULTS / f"gan_stacked_samples_{kind}.png")
    hists = {k: v for k, v in hists.items() if k in ("dcgan_stacked_mnist", "without_minibatch_discrimination")}
    if hists:
        series = {f"{k}: {s['modes_covered']} modes, KL {s['kl_to_uniform']:.3f}": (np.arange(1, 1001), np.sort(c)[::-1])
                  for k, (c, s) in hists.items()}
        figures.save(figures.curves(series, title="Stacked MNIST: samples per mode (26,000 samples), modes sorted",
                                    xlabel="mode rank", ylabel="samples"), RESULTS / "gan_stacked_mode_histogram.png")

    # -- training curves from the cards -----------------------------------------------------------------------
    losses, probs = {}, {}
    for name in ("dcgan_mnist", "cgan_mnist", "dcgan_stacked_mnist"):
        card_path = registry.saved_models_dir() / name / "card.json"
        if not card_path.is_file():
            continue
        h = json.loads(card_path.read_text()).get("history", {})
        if not h:
            continue
        epochs = np.arange(1, len(h["d_loss"]) + 1)
        losses[f"{name} D"], losses[f"{name} G"] = (epochs, h["d_loss"]), (epochs, h["g_loss"])
        probs[f"{name} D(x)"], probs[f"{name} D(G(z))"] = (epochs, h["d_real"]), (epochs, h["d_fake"])
    if losses:
        figures.save(figures.curves(losses, title="GAN losses per epoch (training means)", xlabel="epoch",
                                    ylabel="cross-entropy (nats)"), RESULTS / "gan_losses.png")
        figures.save(figures.curves(probs, title="D(x) and D(G(z)) per epoch (training means)", xlabel="epoch",
                                    ylabel="probability"), RESULTS / "gan_d_outputs.png")

    RESULTS.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, indent=2)
    (RESULTS / "gan_modes.json").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
