"""Run every benchmark in this folder (``make bench``) and print their reports.

Each ``bench_*.py`` is a standalone script that measures our code and its baseline in the same run and
prints ratios. ``--quick`` is passed through for a shorter run.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TIMEOUT_S = 3600  # the transfer benchmark moves a 1 GiB archive several times


def main(argv: list[str]) -> int:
    scripts = sorted(HERE.glob("bench_*.py"))
    failed = []
    for script in scripts:
        print(f"\n=== {script.name} ===", flush=True)
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, str(script), *argv], timeout=TIMEOUT_S, check=False)
        print(f"--- {script.name}: exit {proc.returncode} in {time.perf_counter() - start:.1f} s", flush=True)
        if proc.returncode != 0:
            failed.append(script.name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
        return 1
    print(f"\n{len(scripts)} benchmarks ran")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
