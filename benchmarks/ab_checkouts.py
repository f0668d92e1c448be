"""Old client code against new, same local Hub, same run: the loopback (or round-trip) "no figure below today's" check.

    git worktree add /tmp/polaris-old <rev>
    python benchmarks/ab_checkouts.py --old /tmp/polaris-old [--latency-ms 0] [--rounds 4] [--chunks 2000] [--kib 4]

One local Hub (this checkout's) serves both. Each measurement is a fresh process whose ``PYTHONPATH`` is one
checkout; it logs in, uploads a pointer dataset of ``--chunks`` chunks of ``--kib`` KiB (``upload_dataset``) and reads
it back (``get_dataset(lazy=True).load_to_memory()`` and every array), reporting wall seconds, its own CPU seconds and
context switches for the upload. The order of old and new alternates per round; the best round of each is compared.
Not part of ``make bench`` (it needs an old checkout).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHILD_TIMEOUT_S = 600


def child(config: str) -> None:
    cfg = json.loads(config)
    sys.path.insert(0, str(HERE))
    from _reference import OWNER, child_client, pointer_dataset, read_all

    client = child_client(cfg)
    root, n = Path(cfg["root"]), int(cfg["n"])
    name = f"ab-{uuid.uuid4().hex[:8]}"
    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    client.upload_dataset(pointer_dataset(name, root, n))
    upload = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    dataset = client.get_dataset(OWNER, name, lazy=True).load_to_memory()
    read_all(dataset.zarr_root)
    download = time.perf_counter() - start
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    switches = after.ru_nvcsw - before.ru_nvcsw
    print(json.dumps({"upload": upload, "download": download, "upload_cpu": cpu, "upload_switches": switches}))
    client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--old", type=Path, help="checkout of the old client code (its folder holding polaris/)")
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--chunks", type=int, default=2000)
    parser.add_argument("--kib", type=int, default=4)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    if args.old is None or not (args.old / "polaris" / "__init__.py").is_file():
        raise SystemExit("--old: give a checkout of the old code (a folder with polaris/__init__.py)")
    os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")
    sys.path.insert(0, str(HERE))
    from _reference import OWNER, make_rows_archive

    from polaris.testing import LocalHub

    work = Path(tempfile.mkdtemp(prefix="polaris-ab-"))
    root = work / "rows.zarr"
    make_rows_archive(root, args.chunks, args.kib * 1024)
    sides = [("old", args.old.resolve()), ("new", HERE.parent)]
    runs: dict[str, list[dict[str, float]]] = {"old": [], "new": []}
    with LocalHub(seed="demo", extra_args=["--storage-latency-ms", str(args.latency_ms)]) as hub:
        config = json.dumps(
            {"hub": hub.env(), "user": OWNER, "password": hub.users[OWNER], "root": str(root), "n": args.chunks}
        )
        for round_no in range(args.rounds):
            for who, path in sides if round_no % 2 == 0 else sides[::-1]:
                env = dict(os.environ, PYTHONPATH=str(path), POLARIS_CACHE_DIR=str(work / f"cache-{who}-{round_no}"))
                proc = subprocess.run(
                    [sys.executable, str(HERE / "ab_checkouts.py"), "--child", config],
                    env=env,
                    cwd=path,
                    capture_output=True,
                    text=True,
                    check=True,
                    timeout=CHILD_TIMEOUT_S,
                )
                result = json.loads(proc.stdout.strip().splitlines()[-1])
                runs[who].append(result)
                print(f"  round {round_no} {who}: {result}", flush=True)
    print(f"\n{args.chunks} x {args.kib} KiB, storage latency {args.latency_ms} ms, best of {args.rounds} rounds")
    for what in ("upload", "download"):
        old, new = (min(r[what] for r in runs[side]) for side in ("old", "new"))
        print(
            f"  {what:<9} old {old:6.2f}s ({args.chunks / old:6.0f} obj/s)  new {new:6.2f}s "
            f"({args.chunks / new:6.0f} obj/s)  new/old speed {old / new:.2f}x"
        )
    for what in ("upload_cpu", "upload_switches"):
        old, new = (min(r[what] for r in runs[side]) for side in ("old", "new"))
        print(f"  {what:<16} old {old:.2f}  new {new:.2f}")


if __name__ == "__main__":
    main()
