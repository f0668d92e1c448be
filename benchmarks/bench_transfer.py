"""Transfer benchmark: ours against polaris-lib 0.10 and raw clients in the same run (``--mode reference``; see
``benchmarks/_reference.py``), ours against raw clients at 8/32/128 threads with a storage round trip of
``--storage-latency-ms`` (``--mode roundtrip``; see ``benchmarks/_roundtrip.py``), and the library comparison on
raw moto (``--mode moto``). The default (``make bench``) runs reference, then roundtrip at 0 and 30 ms.

    python benchmarks/bench_transfer.py [--quick] [--mode default|reference|roundtrip|moto|all]
                                        [--storage-latency-ms 0,30]

Reference mode sizes: ``POLARIS_BENCH_BIG_MIB`` (the "1 GiB" archive of the big-archive goals, default 1024),
``POLARIS_BENCH_REF_VENV`` (where the reference virtualenv lives, default ``benchmarks/.ref-venv``),
``POLARIS_BENCH_WARM_GIB`` (memory touched once before measuring, default 6; see ``_reference.warm_memory``).
NumPy's huge-page advice is turned off for every process of the run (``NUMPY_MADVISE_HUGEPAGE=0``, see below).

Moto mode:

Starts moto (S3 protocol) in a subprocess on 127.0.0.1, builds Zarr archives locally and measures:

* ``ours``      ``StorageSession.upload_zarr`` / ``download_zarr`` (boto3 PUT threads, obstore sync GET threads)
* ``zarr-obj``  zarr 3's ``zarr.storage.ObjectStore`` over async obstore, keys copied with asyncio (naive path)
* ``boto3``     boto3 ``put_object`` / ``get_object().read()`` in a thread pool (what the reference client does)

on an archive of many small chunks (4 KiB) and one of large chunks (16 MiB), then the resident-memory growth of
downloading an archive larger than any sensible buffer (streaming vs reading whole objects into memory).
Every transfer is checked: downloaded files are compared with the local originals by md5.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# NumPy asks for transparent huge pages on large arrays; with this VM's ``defrag=madvise`` the kernel then compacts
# memory synchronously, which stalled reads of freshly allocated arrays by 0.15-0.4 s at random (measured: reading
# 8 x 16 MiB into arrays 0.016-0.40 s with the advice, a steady 0.07 s without). Every client (ours, the reference
# child, the raw one, the local Hub) inherits this, so it is the same for all of them.
os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")

BUCKET = "bench"
CONCURRENCY = 8
SERVER_START_TIMEOUT = 30.0
RSS_SAMPLE_INTERVAL = 0.005
MiB = 1024 * 1024


@dataclass
class Result:
    archive: str
    direction: str
    client: str
    seconds: float
    n_objects: int
    n_bytes: int

    @property
    def mib_s(self) -> float:
        return self.n_bytes / MiB / self.seconds

    @property
    def obj_s(self) -> float:
        return self.n_objects / self.seconds


# --- environment ---------------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("moto server did not start")


def boto_client(endpoint: str) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        max_pool_connections=32,
        s3={"addressing_style": "path"},
    )
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="AKEY",
        aws_secret_access_key="ASECRET",
        aws_session_token="jwt/bench",
        region_name="us-east-1",
        config=config,
    )


def s3store(endpoint: str, prefix: str) -> Any:
    from obstore.store import S3Store

    return S3Store(
        BUCKET,
        prefix=prefix,
        endpoint=endpoint,
        access_key_id="AKEY",
        secret_access_key="ASECRET",
        token="jwt/bench",
        region="us-east-1",
        client_options={"allow_http": True},
    )


def make_archive(root: Path, n_chunks: int, chunk_bytes: int) -> list[str]:
    """A zarr v2 array of ``n_chunks`` uncompressed chunks of ``chunk_bytes`` random bytes; returns relative keys."""
    import numpy as np
    import zarr

    group = zarr.open_group(root, mode="w", zarr_format=2)
    per_chunk = chunk_bytes // 8
    array = group.create_array(
        "x", shape=(n_chunks * per_chunk,), chunks=(per_chunk,), dtype="f8", compressors=None, filters=None
    )
    rng = np.random.default_rng(0)
    step = max(1, (64 * MiB) // chunk_bytes)
    for start in range(0, n_chunks, step):
        stop = min(n_chunks, start + step)
        array[start * per_chunk : stop * per_chunk] = rng.random((stop - start) * per_chunk)
    zarr.consolidate_metadata(root)
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def md5_tree(root: Path) -> dict[str, str]:
    out = {}
    for p in root.rglob("*"):
        if p.is_file():
            digest = hashlib.md5()
            with p.open("rb") as fh:
                while block := fh.read(MiB):
                    digest.update(block)
            out[p.relative_to(root).as_posix()] = digest.hexdigest()
    return out


# --- the three clients -----------------------------------------------------------------------------------------------
def ours_session(endpoint: str) -> Any:
    from polaris.hub.storage import StorageSession, StorageToken

    token = StorageToken.from_response(
        {
            "access_token": "bench",
            "token_type": "Storage",
            "expires_in": 3600,
            "extra_data": {
                "key": "AKEY",
                "secret": "ASECRET",
                "endpoint": endpoint,
                "paths": {"root": f"polarisfs://{BUCKET}/x/table.parquet"},
            },
        }
    )
    return StorageSession(lambda: token, max_workers=CONCURRENCY, progress=False)


def ours_upload(endpoint: str, root: Path, prefix: str, keys: list[str]) -> None:
    with ours_session(endpoint) as session:
        session.upload_zarr(root, f"polarisfs://{BUCKET}/{prefix}")


def ours_download(endpoint: str, prefix: str, dest: Path, keys: list[str]) -> None:
    with ours_session(endpoint) as session:
        session.download_zarr(f"polarisfs://{BUCKET}/{prefix}", dest)


def boto_upload(endpoint: str, root: Path, prefix: str, keys: list[str]) -> None:
    client = boto_client(endpoint)

    def one(key: str) -> None:
        body = (root / key).read_bytes()
        digest = hashlib.md5(body).digest()
        client.put_object(
            Bucket=BUCKET,
            Key=f"{prefix}/{key}",
            Body=body,
            ContentMD5=base64.b64encode(digest).decode(),
            Metadata={"md5sum": digest.hex()},
            ContentType="application/octet-stream",
        )

    with ThreadPoolExecutor(CONCURRENCY) as pool:
        list(pool.map(one, keys))


def boto_download(endpoint: str, prefix: str, dest: Path, keys: list[str]) -> None:
    client = boto_client(endpoint)
    listed: list[str] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix + "/"):
        listed += [item["Key"] for item in page.get("Contents", [])]

    def one(full_key: str) -> None:
        body = client.get_object(Bucket=BUCKET, Key=full_key)["Body"].read()
        target = dest / full_key[len(prefix) + 1 :]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)

    with ThreadPoolExecutor(CONCURRENCY) as pool:
        list(pool.map(one, listed))


def zarr_upload(endpoint: str, root: Path, prefix: str, keys: list[str]) -> None:
    from zarr.core.buffer import default_buffer_prototype
    from zarr.storage import ObjectStore

    store = ObjectStore(s3store(endpoint, prefix))
    proto = default_buffer_prototype()

    async def run() -> None:
        limit = asyncio.Semaphore(CONCURRENCY)

        async def one(key: str) -> None:
            async with limit:
                await store.set(key, proto.buffer.from_bytes((root / key).read_bytes()))

        await asyncio.gather(*(one(k) for k in keys))

    asyncio.run(run())


def zarr_download(endpoint: str, prefix: str, dest: Path, keys: list[str]) -> None:
    from zarr.core.buffer import default_buffer_prototype
    from zarr.storage import ObjectStore

    store = ObjectStore(s3store(endpoint, prefix), read_only=True)
    proto = default_buffer_prototype()

    async def run() -> None:
        listed = [k async for k in store.list()]
        limit = asyncio.Semaphore(CONCURRENCY)

        async def one(key: str) -> None:
            async with limit:
                buf = await store.get(key, proto)
                assert buf is not None
                target = dest / key
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(buf.to_bytes())

        await asyncio.gather(*(one(k) for k in listed))

    asyncio.run(run())


UploadFn = Callable[[str, Path, str, list[str]], None]
DownloadFn = Callable[[str, str, Path, list[str]], None]
CLIENTS: dict[str, tuple[UploadFn, DownloadFn]] = {
    "ours": (ours_upload, ours_download),
    "zarr-obj": (zarr_upload, zarr_download),
    "boto3": (boto_upload, boto_download),
}


# --- measurements ----------------------------------------------------------------------------------------------------
def measure_archive(
    endpoint: str, work: Path, label: str, n_chunks: int, chunk_bytes: int, repeat: int
) -> list[Result]:
    """Best of ``repeat`` rounds per (direction, client); the client order rotates between rounds."""
    root = work / f"{label}.zarr"
    keys = make_archive(root, n_chunks, chunk_bytes)
    expected = md5_tree(root)
    total = sum((root / k).stat().st_size for k in keys)
    best: dict[tuple[str, str], float] = {}
    names = list(CLIENTS)
    for round_no in range(repeat):
        for name in names[round_no % len(names) :] + names[: round_no % len(names)]:
            upload, download = CLIENTS[name]
            prefix = f"{label}/{name}/{round_no}"
            start = time.perf_counter()
            upload(endpoint, root, prefix, keys)
            elapsed = time.perf_counter() - start
            best[("upload", name)] = min(best.get(("upload", name), elapsed), elapsed)
            dest = work / f"{label}-{name}-out"
            start = time.perf_counter()
            download(endpoint, prefix, dest, keys)
            elapsed = time.perf_counter() - start
            best[("download", name)] = min(best.get(("download", name), elapsed), elapsed)
            if md5_tree(dest) != expected:
                raise SystemExit(f"{name} {label}: downloaded archive differs from the original")
            shutil.rmtree(dest)
    shutil.rmtree(root)
    return [
        Result(label, direction, name, best[(direction, name)], len(keys), total)
        for name in names
        for direction in ("upload", "download")
    ]


def rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss_growth(fn: Callable[[], None]) -> float:
    """Peak resident-set growth (MiB) while ``fn`` runs, sampled every few ms."""
    base = rss_bytes()
    peak = base
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, rss_bytes())
            time.sleep(RSS_SAMPLE_INTERVAL)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        fn()
    finally:
        stop.set()
        sampler.join()
    return (max(peak, rss_bytes()) - base) / MiB


def measure_memory(endpoint: str, work: Path, total_mib: int) -> dict[str, float]:
    chunk = 16 * MiB
    n = max(1, total_mib * MiB // chunk)
    root = work / "mem.zarr"
    keys = make_archive(root, n, chunk)
    ours_upload(endpoint, root, "mem", keys)
    shutil.rmtree(root)
    out: dict[str, float] = {}
    for name in ("ours", "boto3"):
        # a fresh process per client: RSS freed by one run would otherwise hide the next one's growth
        dest = work / f"mem-{name}"
        child = subprocess.run(
            [sys.executable, __file__, "--mem-child", name, endpoint, str(dest)],
            check=True,
            capture_output=True,
            text=True,
            timeout=600,
        )
        out[name] = float(child.stdout.strip().splitlines()[-1])
        shutil.rmtree(dest)
    out["archive_mib"] = n * chunk / MiB
    return out


def mem_child(name: str, endpoint: str, dest: str) -> None:
    """Run in a fresh process: print the peak RSS growth (MiB) of one client's download of the ``mem`` archive."""
    import boto3  # noqa: F401  - import (and warm up) the libraries before measuring
    import obstore  # noqa: F401

    download = CLIENTS[name][1]
    print(peak_rss_growth(lambda: download(endpoint, "mem", Path(dest), [])))


def print_table(results: list[Result]) -> None:
    by_key = {(r.archive, r.direction, r.client): r for r in results}
    header = (
        f"{'archive':<14}{'direction':<10}{'client':<10}{'seconds':>9}{'MiB/s':>9}{'obj/s':>9}"
        f"{'ours/zarr-obj':>15}{'ours/boto3':>12}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        ours = by_key[(r.archive, r.direction, "ours")]
        ratio_z = ratio_b = ""
        if r.client == "ours":
            ratio_z = f"{ours.mib_s / by_key[(r.archive, r.direction, 'zarr-obj')].mib_s:.2f}x"
            ratio_b = f"{ours.mib_s / by_key[(r.archive, r.direction, 'boto3')].mib_s:.2f}x"
        print(
            f"{r.archive:<14}{r.direction:<10}{r.client:<10}{r.seconds:>9.2f}{r.mib_s:>9.1f}{r.obj_s:>9.1f}"
            f"{ratio_z:>15}{ratio_b:>12}"
        )


def moto_main(args: argparse.Namespace) -> None:
    """The library comparison on raw moto (no Hub, no gateway): which library should move the bytes."""
    small_n, large_n, mem_mib = (400, 4, 128) if args.quick else (2000, 8, 256)
    repeat = args.repeat or (1 if args.quick else 2)

    proc, endpoint = start_moto()
    work = Path(tempfile.mkdtemp(prefix="polaris-bench-"))
    try:
        boto_client(endpoint).create_bucket(Bucket=BUCKET)
        started = time.perf_counter()
        results = measure_archive(endpoint, work, f"{small_n}x4KiB", small_n, 4 * 1024, repeat)
        results += measure_archive(endpoint, work, f"{large_n}x16MiB", large_n, 16 * MiB, max(repeat, 3))
        print(
            f"moto (separate process) on loopback, {os.cpu_count()} CPUs, {CONCURRENCY} concurrent transfers, "
            f"best of {repeat} rounds (large chunks: {max(repeat, 3)})\n"
        )
        print_table(results)
        mem = measure_memory(endpoint, work, mem_mib)
        print(
            f"\npeak RSS growth downloading a {mem['archive_mib']:.0f} MiB archive of 16 MiB chunks: "
            f"ours {mem['ours']:.1f} MiB (streams {CONCURRENCY} objects to disk), "
            f"boto3 read() {mem['boto3']:.1f} MiB (whole objects in memory)"
        )
        print(f"total {time.perf_counter() - started:.1f}s")
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller archives (a few minutes on 2 cores)")
    parser.add_argument("--mem-child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--rss-child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--repeat", type=int, default=None, help="rounds per measurement, best kept")
    parser.add_argument(
        "--mode",
        choices=("default", "reference", "roundtrip", "moto", "all"),
        default="default",
        help="reference: ours vs polaris-lib 0.10 vs raw clients on a local Hub; roundtrip: ours vs raw clients at "
        "8/32/128 threads with --storage-latency-ms; default: both; moto: libraries on raw moto; all: everything",
    )
    parser.add_argument(
        "--storage-latency-ms",
        default="0,30",
        help="roundtrip mode: comma-separated latencies the local Hub's storage adds to every request (default 0,30)",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a goal of the reference mode is missed")
    args = parser.parse_args()
    if args.mem_child:
        mem_child(*args.mem_child)
        return
    if args.rss_child:
        from _reference import rss_child

        rss_child(*args.rss_child)
        return
    # One download cache for the whole run, made for it and removed after: a user's own cache (whose chunk cache may
    # hold chunks with the same content as the benchmark's archives) must neither be written nor serve hits here.
    run_cache = tempfile.mkdtemp(prefix="polaris-bench-cache-")
    os.environ["POLARIS_CACHE_DIR"] = run_cache
    try:
        run_modes(args)
    finally:
        shutil.rmtree(run_cache, ignore_errors=True)


def run_modes(args: argparse.Namespace) -> None:
    failed = False
    if args.mode in ("default", "reference", "all"):
        from _reference import reference_main

        failed |= not reference_main(quick=args.quick, repeat=args.repeat)
    if args.mode in ("default", "roundtrip", "all"):
        from _roundtrip import roundtrip_main

        latencies = sorted({int(v) for v in str(args.storage_latency_ms).split(",") if v.strip()})
        if not latencies or min(latencies) < 0:
            raise SystemExit("--storage-latency-ms: give one or more latencies >= 0, e.g. 0,30")
        failed |= not roundtrip_main(latencies=latencies, quick=args.quick, repeat=args.repeat)
    if failed and args.strict:
        raise SystemExit(1)
    if args.mode in ("moto", "all"):
        moto_main(args)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
