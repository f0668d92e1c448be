"""How much does resuming an interrupted upload re-send? Prints bytes sent on resume / bytes missing.

Starts a local Hub, uploads a V1 dataset with a Zarr archive of incompressible chunks through a TCP proxy that
resets the link in the middle of one phase (the table, the consolidated ``.zmetadata``, or the chunks), then
completes it with ``upload_dataset(dataset, if_exists="skip")`` and counts every byte the client sends to storage
(request lines, headers, HEADs and bodies) on the way. "Missing" is the size of the objects the
``PartialUploadError`` named. The Hub API requests (one metadata PUT, one token) are not storage bytes.

Run::

    python benchmarks/resume_ratio.py [--chunks 32] [--chunk-kib 256]
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

PHASES = {"table": b"/table.parquet ", "zmetadata": b"/.zmetadata ", "chunks": b"/data.zarr/x/"}


def _dataset(root: Path, name: str, n_chunks: int, chunk_kib: int) -> Any:
    import numpy as np
    import pandas as pd
    import zarr

    from polaris.artifacts import DatasetV1
    from polaris.artifacts.dataset import ColumnAnnotation

    per_chunk = chunk_kib * 1024 // 8
    values = np.random.default_rng(1).random((n_chunks, per_chunk))
    group = zarr.open_group(str(root), mode="w", zarr_format=2)
    group.create_array("x", shape=values.shape, chunks=(1, per_chunk), dtype="float64", compressors=None)[:] = values
    table = pd.DataFrame({"x": [f"x#{i}" for i in range(n_chunks)], "y": np.arange(n_chunks, dtype=float)})
    return DatasetV1(
        name=name,
        owner="demo-user",
        table=table,
        annotations={"x": ColumnAnnotation(is_pointer=True)},
        zarr_root_path=str(root),
        license="CC-BY-4.0",
    )


def _sizes(dataset: Any, tmp: Path) -> dict[str, int]:
    from polaris.hub.storage import stage_zarr

    staged = stage_zarr(Path(dataset.zarr_root_path), tmp / f"sizes-{uuid.uuid4().hex[:6]}")
    sizes = {f"data.zarr/{e.path}": e.size for e in staged.entries()}
    table = tmp / f"table-{uuid.uuid4().hex[:6]}.parquet"
    dataset.table.to_parquet(table)
    sizes["table.parquet"] = table.stat().st_size
    return sizes


def measure(hub: Any, phase: str, n_chunks: int, chunk_kib: int, tmp: Path) -> tuple[int, int]:
    """(bytes sent on resume, bytes missing) for one cut phase."""
    from polaris.errors import PartialUploadError
    from polaris.hub.client import PolarisHubClient
    from polaris.testing.netfaults import CuttingProxy

    proxies: list[CuttingProxy] = []
    with PolarisHubClient(
        hub.settings(username="demo-user", password=hub.users["demo-user"]), cache_auth_token=False
    ) as client:
        client.show_progress = False
        client.login()
        original = client._authenticator.storage_token

        def via_proxy(*, resource: str, scope: str) -> dict[str, Any]:
            answer = dict(original(resource=resource, scope=scope))
            extra = dict(answer["extra_data"])
            if not proxies:
                parsed = urlparse(extra["endpoint"])
                assert parsed.hostname and parsed.port
                proxies.append(CuttingProxy((parsed.hostname, parsed.port)))
            extra["endpoint"] = proxies[0].url + "/"
            answer["extra_data"] = extra
            return answer

        client._authenticator.storage_token = via_proxy  # type: ignore[method-assign]
        via_proxy(resource="urn:polaris:dataset:polaris-demo:freesolv", scope="read")
        proxy = proxies[0]
        try:
            name = f"resume-{phase}-{uuid.uuid4().hex[:8]}"
            dataset = _dataset(tmp / f"{name}.zarr", name, n_chunks, chunk_kib)
            marker = PHASES[phase] + (f"{n_chunks // 2}.0 ".encode() if phase == "chunks" else b"")
            proxy.cut(marker, after=200)
            try:
                client.upload_dataset(dataset)
            except PartialUploadError as exc:
                missing = exc.missing
            else:
                raise RuntimeError(f"the upload was not cut during the {phase} phase")
            sizes = _sizes(dataset, tmp)
            proxy.restore()
            proxy.reset_count()
            client.upload_dataset(dataset, if_exists="skip")
            client.get_dataset("demo-user", name, verify_checksum="verify")  # complete and intact
            return proxy.sent, sum(sizes[m] for m in missing)
        finally:
            proxy.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--chunks", type=int, default=32, help="Zarr chunks in the archive (default 32)")
    parser.add_argument("--chunk-kib", type=int, default=256, help="size of one chunk in KiB (default 256)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    from polaris.testing import LocalHub

    with tempfile.TemporaryDirectory(prefix="polaris-resume-") as tmp, LocalHub(seed="demo") as hub:
        print(f"archive: {args.chunks} chunks x {args.chunk_kib} KiB; cut 200 bytes into the named request")
        print(f"{'cut during':<12}{'missing bytes':>15}{'sent on resume':>16}{'ratio':>8}")
        worst = 0.0
        for phase in PHASES:
            sent, missing = measure(hub, phase, args.chunks, args.chunk_kib, Path(tmp))
            ratio = sent / missing
            worst = max(worst, ratio)
            print(f"{phase:<12}{missing:>15,}{sent:>16,}{ratio:>8.4f}")
        print(f"worst ratio {worst:.4f} (target <= 1.05)")
        return 0 if worst <= 1.05 else 1


if __name__ == "__main__":
    sys.exit(main())
