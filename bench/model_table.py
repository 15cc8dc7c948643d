"""Print the README's model table from the shipped cards as JSON rows, or as Markdown with --markdown;
--write-readme replaces the table between the MODELS-TABLE markers in README.md.

    python bench/model_table.py --write-readme
"""

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HEADLINES = [  # (metric key in card["metrics"], label), first present wins
    ("nll_iwae", "test NLL (nats, IWAE k={k})"),
    ("accuracy", "test accuracy"),
    ("squared_error_per_image", "test squared error per image"),
]


def rows():
    out = []
    for card_path in sorted((ROOT / "saved_models").glob("*/card.json")):
        card = json.loads(card_path.read_text())
        metrics = card.get("metrics", {})
        key, label = next(((k, l) for k, l in HEADLINES if k in metrics), (None, None))
        headline = None
        if key:
            headline = {"metric": label.format(k=metrics.get("num_samples", "")), "value": metrics[key]}
        extra = []
        if "pca_baseline" in card:
            extra.append(f"PCA k={card['pca_baseline']['k']}: {card['pca_baseline']['squared_error_per_image']:.2f}")
        if "pca_principal_angles_deg" in card:
            a = card["pca_principal_angles_deg"]
            extra.append(f"angles to PCA subspace: mean {a['mean']:.1f}°, max {a['max']:.1f}°")
        for k in ("elbo", "active_units"):
            if k in metrics:
                extra.append(f"{k}: {metrics[k]}")
        extra += family_figures(card)
        out.append({"name": card["name"], "family": card["family"], "parameters": card["parameters"],
                    "data": f"MNIST {card['data']['train_examples']:,} train / {card['data']['test_examples']:,} test",
                    "headline": headline, "also": "; ".join(extra)})
    return out


def family_figures(card):
    """The figure each family is about, read from its card."""
    out = []
    if card.get("family") == "classifier" and "error" in card.get("metrics", {}):
        out.append(f"test error {card['metrics']['error']:.2%} (ae_mnist encoder fine-tuned on all labels)")
    if "tied_weights" in card:
        t = card["tied_weights"]
        out.append(f"{t['parameters']:,} parameters tied vs {t['untied_equivalent_parameters']:,} untied")
    if "layerwise_pretraining" in card:
        lp = card["layerwise_pretraining"]
        out.append(f"layer-wise pretrained {lp['with_pretraining']['test_squared_error_per_image']:.2f} vs "
                   f"end to end {lp['without_pretraining']['test_squared_error_per_image']:.2f} "
                   f"({lp['without_pretraining']['epochs']} epochs)")
    if "denoising" in card:
        r = card["denoising"]["results"]
        best = ", ".join(f"{k.replace('_', ' ')}: {v['noisy_input']['psnr_db']:.1f} → {v['denoised']['psnr_db']:.1f} dB"
                         for k, v in r.items() if k.endswith("0.25"))
        out.append(f"PSNR noisy → denoised: {best}")
    if "sparsity" in card:
        sp = card["sparsity"]
        out.append(f"mean activation {sp['sparse']['mean_activation']:.3f} vs {sp['unregularized']['mean_activation']:.3f} "
                   f"unregularized; units near zero {sp['sparse']['fraction_near_zero']:.0%} vs "
                   f"{sp['unregularized']['fraction_near_zero']:.0%}")
    if "contraction" in card:
        c = card["contraction"]
        out.append(f"encoder Jacobian ‖J‖_F {c['contractive']['mean_jacobian_frobenius_norm']:.1f} vs "
                   f"{c['plain_same_architecture']['mean_jacobian_frobenius_norm']:.1f} for the same AE unregularized")
    return out


def denoising_markdown():
    card = json.loads((ROOT / "saved_models" / "dae_mnist" / "card.json").read_text())
    lines = ["| noise | noisy input: squared error / PSNR | denoised: squared error / PSNR |", "|---|---|---|"]
    for k, v in card["denoising"]["results"].items():
        n, d = v["noisy_input"], v["denoised"]
        lines.append(f"| {k.replace('_', ' ')} | {n['squared_error_per_image']:.1f} / {n['psnr_db']:.1f} dB | "
                     f"{d['squared_error_per_image']:.1f} / {d['psnr_db']:.1f} dB |")
    return "\n".join(lines)


def markdown(table):
    lines = ["| model | family | parameters | data | headline metric | also |", "|---|---|---|---|---|---|"]
    for r in table:
        h = r["headline"]
        hv = f"{h['metric']}: **{h['value']:.4g}**" if h else ""
        lines.append(f"| `{r['name']}` | {r['family']} | {r['parameters']:,} | {r['data']} | {hv} | {r['also']} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--write-readme", action="store_true")
    args = ap.parse_args()
    table = rows()
    if args.write_readme:
        readme = ROOT / "README.md"
        text = readme.read_text()
        block = f"<!-- MODELS-TABLE -->\n{markdown(table)}\n<!-- /MODELS-TABLE -->"
        text = re.sub(r"<!-- MODELS-TABLE -->(.*?<!-- /MODELS-TABLE -->)?", lambda m: block, text, count=1,
                      flags=re.S)
        if (ROOT / "saved_models" / "dae_mnist" / "card.json").is_file():
            block = f"<!-- DENOISING-TABLE -->\n{denoising_markdown()}\n<!-- /DENOISING-TABLE -->"
            text = re.sub(r"<!-- DENOISING-TABLE -->(.*?<!-- /DENOISING-TABLE -->)?", lambda m: block, text,
                          count=1, flags=re.S)
        readme.write_text(text)
    print(markdown(table) if args.markdown else json.dumps(table, indent=2))


if __name__ == "__main__":
    main()
