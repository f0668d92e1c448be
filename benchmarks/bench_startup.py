"""Start-up time of the CLI and of the client module, as a ratio to ``python -c "import httpx"`` (same run).

Goal: ``polaris --help`` and ``import polaris.hub.client`` take at most 3x the time of importing httpx.
Each command runs several times, interleaved, in fresh interpreters; the median wall time is reported.

    python benchmarks/bench_startup.py [--quick] [--runs N] [--strict]

``--strict`` exits 1 when a goal is missed (the default only reports).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

#: Runs per command (``--quick``: fewer).
DEFAULT_RUNS = 9
QUICK_RUNS = 3
#: The ratio to the httpx import we aim for.
GOAL_RATIO = 3.0
RUN_TIMEOUT_S = 60


def _commands() -> dict[str, list[str]]:
    python = sys.executable
    script = Path(python).parent / "polaris"
    cli = [str(script), "--help"] if script.exists() else [python, "-m", "polaris.cli", "--help"]
    return {
        'python -c "pass"': [python, "-c", "pass"],
        'python -c "import httpx"  (baseline)': [python, "-c", "import httpx"],
        'python -c "import polaris.hub.client"': [python, "-c", "import polaris.hub.client"],
        "polaris --help": cli,
    }


def _time(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(
        cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=RUN_TIMEOUT_S, env=env
    )
    return time.perf_counter() - start


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_RUNS} runs per command")
    parser.add_argument("--runs", type=int, default=None, help=f"runs per command (default {DEFAULT_RUNS})")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a goal is missed")
    args = parser.parse_args(argv)
    runs = args.runs or (QUICK_RUNS if args.quick else DEFAULT_RUNS)

    env = dict(os.environ)
    env.setdefault("COLUMNS", "120")
    commands = _commands()
    for cmd in commands.values():  # warm the file cache and .pyc files
        _time(cmd, env)
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, cmd in commands.items():
            samples[name].append(_time(cmd, env))

    medians = {name: statistics.median(values) for name, values in samples.items()}
    baseline = medians['python -c "import httpx"  (baseline)']
    width = max(len(n) for n in commands)
    print(f"start-up, median of {runs} runs (ratio to importing httpx; goal <= {GOAL_RATIO:.0f}x)")
    print(f"{'command':<{width}}  {'median ms':>10}  {'ratio':>6}  goal")
    missed = []
    for name, median in medians.items():
        ratio = median / baseline
        goal = ""
        if name in ('python -c "import polaris.hub.client"', "polaris --help"):
            ok = ratio <= GOAL_RATIO
            goal = "ok" if ok else "MISSED"
            if not ok:
                missed.append(name)
        print(f"{name:<{width}}  {median * 1000:>10.1f}  {ratio:>5.2f}x  {goal}")
    if missed:
        print(f"goal missed by: {', '.join(missed)}")
        return 1 if args.strict else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
