"""What durable object storage costs the local Hub: uploads through its S3 gateway, with and without ``--data-dir``.

    python benchmarks/bench_emulator_durability.py [--small N] [--large N] [--rounds R]

Starts ``python -m polaris.emulator start`` twice (a temporary data dir: objects stay in memory only; ``--data-dir``:
every acknowledged object is fsync'd to disk first), uploads ``--small`` 4 KiB objects, overwrites them with new
content (what a replacement upload does: with ``--data-dir`` each overwritten version is retained until the artifact is
complete again) and uploads ``--large`` 16 MiB objects through the token-checking gateway with boto3 (8 threads), and
prints objects/s and MiB/s per mode (best of ``--rounds``). Every object is read back and compared by md5 once at the
end.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from polaris.testing import LocalHub

SMALL = 4 * 1024
LARGE = 16 * 1024 * 1024
THREADS = 8
HTTP_TIMEOUT = 60.0
MiB = 1024 * 1024
USER, PASSWORD = "bench-user", "bench-password"


def _s3(token: dict[str, Any]) -> Any:
    import boto3
    from botocore.config import Config

    extra = token["extra_data"]
    return boto3.client(
        "s3",
        endpoint_url=extra["endpoint"],
        aws_access_key_id=extra["key"],
        aws_secret_access_key=extra["secret"],
        aws_session_token="jwt/" + token["access_token"],
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, max_pool_connections=THREADS * 2),
    )


def _prepare(hub: LocalHub, name: str) -> tuple[Any, str]:
    with httpx.Client(base_url=hub.url, timeout=HTTP_TIMEOUT) as http:
        token = http.post(
            "api/auth/token", data={"grant_type": "password", "username": USER, "password": PASSWORD}
        ).json()["access_token"]
        body = {
            "tableContent": {"size": 1, "fileType": "parquet", "md5Sum": "0" * 32}, "zarrContent": [],
            "access": "private", "name": name, "owner": USER, "license": "MIT", "md5Sum": "0" * 32,
            "annotations": {}, "polarisVersion": "0.10.0",
        }  # fmt: skip
        r = http.put(f"api/v1/dataset/{USER}/{name}", json=body, headers={"Authorization": f"Bearer {token}"})
        r.raise_for_status()
        storage = http.post(
            "api/auth/token",
            data={
                "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
                "subject_token": token,
                "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
                "requested_token_type": "urn:ietf:params:oauth:token-type:jwt",
                "resource": f"urn:polaris:dataset:{USER}:{name}",
                "scope": "write",
            },
        ).json()
    return _s3(storage), f"dataset/{USER}/{name}"


def _upload(s3: Any, keys_and_bodies: list[tuple[str, bytes]]) -> float:
    start = time.perf_counter()
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(lambda kb: s3.put_object(Bucket="polaris-hub", Key=kb[0], Body=kb[1]), keys_and_bodies))
    return time.perf_counter() - start


def run_mode(label: str, data_dir: Path | None, n_small: int, n_large: int, rounds: int) -> dict[str, float]:
    small_rates: list[float] = []
    overwrite_rates: list[float] = []
    large_rates: list[float] = []
    with LocalHub(users={USER: PASSWORD}, data_dir=data_dir) as hub:
        s3, prefix = _prepare(hub, "bench-data")
        sent: dict[str, str] = {}
        for r in range(rounds):
            small = [(f"{prefix}/small/{r}/{i:05d}", os.urandom(SMALL)) for i in range(n_small)]
            small_rates.append(n_small / _upload(s3, small))
            small = [(key, os.urandom(SMALL)) for key, _ in small]
            overwrite_rates.append(n_small / _upload(s3, small))
            large = [(f"{prefix}/large/{r}/{i:03d}", os.urandom(LARGE)) for i in range(n_large)]
            large_rates.append(n_large * LARGE / MiB / _upload(s3, large))
            sent.update({k: hashlib.md5(b).hexdigest() for k, b in small + large})
        for key, md5 in sent.items():
            got = s3.get_object(Bucket="polaris-hub", Key=key)["Body"].read()
            assert hashlib.md5(got).hexdigest() == md5, key
    result = {"small_obj_s": max(small_rates), "overwrite_obj_s": max(overwrite_rates), "large_mib_s": max(large_rates)}
    print(
        f"{label:<28} small {n_small} x 4 KiB: {result['small_obj_s']:7.1f} objects/s "
        f"(median {statistics.median(small_rates):.1f})   overwritten: {result['overwrite_obj_s']:7.1f} objects/s "
        f"(median {statistics.median(overwrite_rates):.1f})   large {n_large} x 16 MiB: "
        f"{result['large_mib_s']:6.1f} MiB/s (median {statistics.median(large_rates):.1f})"
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=300)
    parser.add_argument("--large", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    memory = run_mode("in memory (no --data-dir)", None, args.small, args.large, args.rounds)
    with tempfile.TemporaryDirectory(prefix="bench-durable-") as tmp:
        durable = run_mode("--data-dir (durable)", Path(tmp) / "data", args.small, args.large, args.rounds)
    print(
        f"durable / in memory: small {durable['small_obj_s'] / memory['small_obj_s']:.2f}x, "
        f"overwritten {durable['overwrite_obj_s'] / memory['overwrite_obj_s']:.2f}x, "
        f"large {durable['large_mib_s'] / memory['large_mib_s']:.2f}x"
    )


if __name__ == "__main__":
    main()
