"""How fast the commands that only list or describe answer: wall time of a fresh process, median of N runs, beside
`python -c pass` (the interpreter's own start-up) and `python -c "import tensorflow"` (what they no longer pay).

    python bench/cli_speed.py [--runs 5] [--out bench/results/cli_speed.json]

Commands are run round-robin (one of each, then again), so a slow moment of the machine touches all of them alike.
Each run is also checked to have imported no TensorFlow (`-X importtime` lists every module a process imports).
Prints JSON.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

COMMANDS = {
    "python -c pass": ["-c", "pass"],
    "zoo --help": ["-m", "zoo", "--help"],
    "zoo list": ["-m", "zoo", "list"],
    "zoo info ae_mnist": ["-m", "zoo", "info", "ae_mnist"],
    "python -m export --help": ["-m", "export", "--help"],
    "python -c 'import zoo'": ["-c", "import zoo"],
    "python -c 'import tensorflow' (for scale)": ["-c", "import tensorflow"],
}


def run_once(args):
    """Wall seconds of one fresh process, and whether it imported tensorflow."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    start = time.perf_counter()
    p = subprocess.run([sys.executable, "-X", "importtime", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed: {p.stderr.strip().splitlines()[-1:]}")
    imported_tf = any(line.rstrip().endswith("| tensorflow") for line in p.stderr.splitlines())
    return seconds, imported_tf


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, choices=range(1, 101), metavar="N", help="runs per command (1..100)")
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args(argv)
    times = {name: [] for name in COMMANDS}
    tensorflow = {}
    for i in range(args.runs):
        for name, command in COMMANDS.items():
            seconds, imported_tf = run_once(command)
            times[name].append(seconds)
            tensorflow[name] = imported_tf
        print(f"round {i + 1}/{args.runs} done", file=sys.stderr, flush=True)
    result = {
        "what": "wall seconds of a fresh process, median of the runs (round-robin)",
        "runs": args.runs,
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                    "python": platform.python_version()},
        "commands": {name: {"median_s": round(statistics.median(t), 3), "min_s": round(min(t), 3),
                            "max_s": round(max(t), 3), "imports_tensorflow": tensorflow[name]}
                     for name, t in times.items()},
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
