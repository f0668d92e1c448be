"""Client CPU per small storage request (``make bench``): PUT, GET, HEAD, in-memory GET and listing, one at a time
through a local Hub's S3 gateway (keep-alive, as against R2), measured as this process's CPU time per request.

    python benchmarks/bench_object_cpu.py [--quick] [-n N]

Requests go one after another, so the figure is the client's own work per object (signing, building and parsing
the request, hashing, bookkeeping, progress, the retry loop and the concurrency gate), not waiting: the Hub runs in
another process. Only ``StorageSession``'s public methods are used, so the same script measures an older checkout
(``PYTHONPATH=<checkout>``) for before/after figures. Best of three series.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

RESOURCE = "urn:polaris:dataset:polaris-demo:freesolv"
PREFIX = "dataset/polaris-demo/freesolv"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
TT_JWT = "urn:ietf:params:oauth:token-type:jwt"
BODY_BYTES = 16 * 1024


def storage_token(hub: object) -> object:
    import httpx

    from polaris.hub.storage import StorageToken

    form = {"grant_type": "password", "username": "demo-user", "password": hub.users["demo-user"]}  # type: ignore[attr-defined]
    url = hub.hub_token_url  # type: ignore[attr-defined]
    hub_token = httpx.post(url, data=form, timeout=30).raise_for_status().json()["access_token"]
    exchange = {
        "grant_type": TOKEN_EXCHANGE,
        "subject_token": hub_token,
        "subject_token_type": TT_JWT,
        "requested_token_type": TT_JWT,
        "resource": RESOURCE,
        "scope": "write",
    }
    return StorageToken.from_response(dict(httpx.post(url, data=exchange, timeout=30).raise_for_status().json()))


def cpu_per_call(fn: Callable[[int], object], n: int) -> float:
    """Milliseconds of this process's CPU per call, best of three series of ``n``."""
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        for i in range(n):
            fn(i)
        best = min(best, (time.process_time() - start) / n * 1000)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("-n", type=int, default=None, help="requests per series")
    parser.add_argument("--mode", default="", help=argparse.SUPPRESS)  # run_all passes bench_transfer's options
    parser.add_argument("--storage-latency-ms", default="", help=argparse.SUPPRESS)
    parser.add_argument("--repeat", default="", help=argparse.SUPPRESS)
    parser.add_argument("--strict", action="store_true", help=argparse.SUPPRESS)
    args, _ = parser.parse_known_args()
    n = args.n or (100 if args.quick else 300)

    import polaris
    from polaris.hub.storage import StorageSession
    from polaris.testing import LocalHub

    body = os.urandom(BODY_BYTES)
    run = uuid.uuid4().hex[:8]
    with LocalHub(seed="demo") as hub, tempfile.TemporaryDirectory() as tmp:
        token = storage_token(hub)
        root = f"polarisfs://polaris-hub/{PREFIX}/cpu-{run}"
        with StorageSession(lambda: token, progress=False) as session:  # type: ignore[arg-type, return-value]
            for i in range(n):  # the objects, and warm connections
                session.upload_file(f"{root}/o/{i}", body)
            rows = {
                "PUT 16 KiB": cpu_per_call(lambda i: session.upload_file(f"{root}/o/{i}", body), n),
                "GET 16 KiB to a file": cpu_per_call(
                    lambda i: session.download_file(f"{root}/o/{i}", Path(tmp) / f"{i}"), n
                ),
                "GET 16 KiB into memory": cpu_per_call(lambda i: session.read_bytes(f"{root}/o/{i}"), n),
                "HEAD": cpu_per_call(lambda i: session.exists(f"{root}/o/{i}"), n),
            }
            listing = cpu_per_call(lambda i: session.list_objects(f"{root}/o"), 3)
            rows[f"LIST (per key, {n} keys)"] = listing / n
    where = Path(polaris.__file__).resolve().parent.parent
    print(
        f"client CPU per request, one at a time, local Hub on loopback; client from {where}; load "
        f"{os.getloadavg()[0]:.1f}; best of 3 series of {n}\n"
    )
    for what, ms in rows.items():
        print(f"  {what:<28}{ms:>8.3f} ms")


if __name__ == "__main__":
    sys.exit(main())
