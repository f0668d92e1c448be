"""Runs inside the reference virtualenv (polaris-lib 0.10.0 and its period dependencies): a command loop.

Started by ``bench_transfer.py``; reads one JSON command per line on stdin and answers one JSON line on stdout
(``{"seconds": ...}`` or ``{"error": ...}``). Times only the documented calls, not interpreter start or login:

* ``{"op": "upload", "name": ..., "zarr": <folder>, "rows": n}``: a DatasetV1 with a pointer column ``x`` into
  the Zarr archive (``x#i`` for row i), ``upload_dataset(dataset, access="private", owner="demo-user")``;
* ``{"op": "upload_table", "name": ..., "parquet": <file>}``: a DatasetV1 of that table;
* ``{"op": "consolidate", "zarr": <folder>}``: zarr 2's consolidated metadata for the archive (before any upload);
* ``{"op": "download", "name": ..., "verify": "verify_unless_zarr"}``: ``get_dataset`` + ``load_to_memory()``
  and every array read once (``[:]``);
* ``{"op": "download_verified", "name": ...}``: the same with the archive's checksum verified, 0.10's way
  (``cache()`` to disk, which verifies, then ``load_to_memory()``).

Configured entirely by the environment (``POLARIS_*`` of the local Hub, ``XDG_CACHE_HOME``, ``COLUMNS``).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import traceback

OWNER = "demo-user"


def main() -> None:
    logging.disable(logging.CRITICAL)
    # polaris-lib's spinners write to stdout: answers go to a private copy of it, everything else to stderr
    answers = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    def answer(payload: dict[str, object]) -> None:
        answers.write(json.dumps(payload) + "\n")
        answers.flush()

    import numpy as np
    import pandas as pd
    import zarr

    from polaris.dataset import ColumnAnnotation, DatasetV1
    from polaris.hub.client import PolarisHubClient

    client = PolarisHubClient()  # cache_auth_token=True: 0.10 fails without it
    # login() would open the interactive browser flow when no token is cached; with POLARIS_USERNAME/PASSWORD set,
    # ensure_active_token() runs the password grant (0.10's headless path).
    if not client.ensure_active_token():
        raise SystemExit("the reference client could not log in")
    answer({"ready": True, "polaris": __import__("polaris").__version__})
    for line in sys.stdin:
        command = json.loads(line)
        try:
            op = command["op"]
            if op == "upload":
                table = pd.DataFrame({"x": [f"x#{i}" for i in range(command["rows"])]})
                dataset = DatasetV1(
                    name=command["name"],
                    table=table,
                    annotations={"x": ColumnAnnotation(is_pointer=True)},
                    zarr_root_path=command["zarr"],
                    license="CC-BY-4.0",
                    owner=OWNER,
                )
                start = time.perf_counter()
                client.upload_dataset(dataset, access="private", owner=OWNER)
                elapsed = time.perf_counter() - start
            elif op == "upload_table":
                dataset = DatasetV1(
                    name=command["name"], table=pd.read_parquet(command["parquet"]), license="CC-BY-4.0", owner=OWNER
                )
                start = time.perf_counter()
                client.upload_dataset(dataset, access="private", owner=OWNER)
                elapsed = time.perf_counter() - start
            elif op == "consolidate":
                # 0.10 re-consolidates the local archive with zarr 2 *after* hashing it for the manifest: start from
                # zarr 2's own .zmetadata so the stored bytes match the manifest (the local Hub checks that)
                start = time.perf_counter()
                zarr.consolidate_metadata(command["zarr"])
                elapsed = time.perf_counter() - start
            elif op == "download_verified":
                # 0.10 cannot verify a remote Zarr archive (get_dataset(verify_checksum="verify") raises "You can
                # only compute the checksum for a local Zarr archive"); its way: cache() copies the archive to disk
                # and verifies the dataset's md5 there, then load_to_memory() reads the local copy
                start = time.perf_counter()
                dataset = client.get_dataset(OWNER, command["name"], verify_checksum="verify_unless_zarr")
                dataset.cache(verify_checksum=True)
                dataset.load_to_memory()
                assert all(isinstance(v, np.ndarray) for v in dataset.zarr_data.values())
                elapsed = time.perf_counter() - start
            elif op == "download":
                start = time.perf_counter()
                dataset = client.get_dataset(OWNER, command["name"], verify_checksum=command.get("verify"))
                if dataset.uses_zarr:
                    dataset.load_to_memory()  # every array read into numpy
                    assert all(isinstance(v, np.ndarray) for v in dataset.zarr_data.values())
                elapsed = time.perf_counter() - start
                if command.get("check_rows") is not None and len(dataset.table) != command["check_rows"]:
                    raise RuntimeError(f"got {len(dataset.table)} rows")
            else:
                raise ValueError(f"unknown op {op!r}")
            answer({"seconds": elapsed})
        except Exception as exc:
            answer({"error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()})


if __name__ == "__main__":
    main()
