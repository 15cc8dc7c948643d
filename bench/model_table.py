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
        for k, v in card.get("table_extras", {}).items():
            extra.append(f"{k}: {v}")
        out.append({"name": card["name"], "family": card["family"], "parameters": card["parameters"],
                    "data": f"MNIST {card['data']['train_examples']:,} train / {card['data']['test_examples']:,} test",
                    "headline": headline, "also": "; ".join(extra)})
    return out


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
        readme.write_text(text)
    print(markdown(table) if args.markdown else json.dumps(table, indent=2))


if __name__ == "__main__":
    main()
