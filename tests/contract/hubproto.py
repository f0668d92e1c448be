"""Helpers for driving the local Hub by hand, the way a given polaris-lib version does (no client of ours involved).

Requests go out with httpx (REST, token endpoint, anonymous object URLs) and boto3 (S3 through the storage gateway
with a storage token, as polaris-lib does: path-style, ``jwt/<token>`` as session token, ``Content-MD5`` and
``x-amz-meta-md5sum`` on uploads). Answers are checked against ``openapi/hub.yaml`` with openapi-core.
"""

from __future__ import annotations

import base64
import hashlib
import io
import tempfile
import uuid
from pathlib import Path
from typing import Any

import boto3
import httpx
import yaml
from botocore.config import Config
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse

from polaris.testing import LocalHub

SPEC = Path(__file__).resolve().parents[2] / "openapi" / "hub.yaml"
BUCKET = "polaris-hub"
HTTP_TIMEOUT = 30.0
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
TT_JWT = "urn:ietf:params:oauth:token-type:jwt"
ROARING_TYPE = "application/vnd.roaringbitmap"
METRICS = [
    {"label": "mean_absolute_error", "config": None, "kind": "default", "name": "mean_absolute_error"},
    {"label": "r2", "config": None, "kind": "default", "name": "r2"},
]


def unique(prefix: str) -> str:
    """A fresh artifact name (the session Hub is shared by many tests)."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def load_spec(hub: LocalHub) -> OpenAPI:
    data = yaml.safe_load(SPEC.read_text())
    data["servers"] = [{"url": hub.api_url}]
    for item in data["paths"].values():
        item.pop("servers", None)
    return OpenAPI.from_dict(data)


def conform(spec: OpenAPI, response: httpx.Response) -> httpx.Response:
    """Assert that the request and its answer are what openapi/hub.yaml says."""
    req = response.request
    url = httpx.URL(str(req.url))
    mock_req = MockRequest(
        f"{url.scheme}://{url.host}:{url.port}",
        req.method.lower(),
        url.path,
        args=dict(url.params),
        headers=dict(req.headers),
        data=req.content or None,
        content_type=req.headers.get("content-type", "application/json"),
    )
    from openapi_core.validation.request.exceptions import SecurityValidationError

    errors = spec.unmarshal_request(mock_req).errors
    if response.status_code == 401:  # a request without the required token is the point of such a test
        errors = [e for e in errors if not isinstance(e, SecurityValidationError)]
    assert not errors, [str(e) for e in errors] + [str(getattr(e, "__cause__", "")) for e in errors]
    mock_resp = MockResponse(
        response.content,
        status_code=response.status_code,
        headers=dict(response.headers),
        content_type=response.headers.get("content-type", "application/json").split(";")[0],
    )
    result = spec.unmarshal_response(mock_req, mock_resp)
    assert not result.errors, [str(e) for e in result.errors] + [
        str(getattr(e, "__cause__", "")) for e in result.errors
    ]
    return response


def password_token(hub: LocalHub, user: str = "demo-user") -> str:
    """``POST /auth/token`` password grant, as every polaris-lib version sends it (``client_id=None``)."""
    form = {"grant_type": "password", "username": user, "password": hub.users[user], "client_id": "None"}
    response = httpx.post(hub.hub_token_url, data=form, timeout=HTTP_TIMEOUT)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def storage_exchange(hub: LocalHub, hub_token: str, resource: str, scope: str) -> httpx.Response:
    form = {
        "grant_type": TOKEN_EXCHANGE,
        "subject_token": hub_token,
        "subject_token_type": TT_JWT,
        "requested_token_type": TT_JWT,
        "resource": resource,
        "scope": scope,
        "client_id": "None",
    }
    return httpx.post(hub.hub_token_url, data=form, timeout=HTTP_TIMEOUT)


class Storage:
    """An S3 session on one artifact, the way polaris-lib builds it from a storage token."""

    def __init__(self, hub: LocalHub, hub_token: str, resource: str, scope: str, *, region: str = "us-east-1") -> None:
        answer = storage_exchange(hub, hub_token, resource, scope)
        assert answer.status_code == 200, answer.text
        token = answer.json()
        assert token["token_type"] == "Storage"
        extra = token["extra_data"]
        self.paths: dict[str, str] = extra["paths"]
        self.s3 = boto3.client(
            "s3",
            endpoint_url=extra["endpoint"],
            aws_access_key_id=extra["key"],
            aws_secret_access_key=extra["secret"],
            aws_session_token="jwt/" + token["access_token"],
            region_name=region,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )

    @staticmethod
    def key(url: str) -> str:
        """``polarisfs://<bucket>/<key>`` -> key."""
        scheme, _, rest = url.partition("://")
        bucket, _, key = rest.partition("/")
        assert scheme == "polarisfs" and bucket == BUCKET, url
        return key

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self.s3.put_object(
            Bucket=BUCKET,
            Key=key,
            Body=data,
            ContentType=content_type,
            ContentMD5=base64.b64encode(hashlib.md5(data).digest()).decode(),
            Metadata={"md5sum": hashlib.md5(data).hexdigest()},
        )

    def get(self, key: str) -> bytes:
        return bytes(self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())


def direct_s3(hub: LocalHub) -> Any:
    """moto itself (no credentials checked): to see or tamper with what is stored behind the gateway."""
    return boto3.client(
        "s3",
        endpoint_url=hub.s3_direct_endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}),
    )


# ---------------------------------------------------------------------------------------------------- content
def roaring(indices: list[int]) -> tuple[bytes, dict[str, Any]]:
    """pyroaring's serialisation of the indices and the ``{datapoints, md5Checksum}`` a client declares."""
    from pyroaring import BitMap

    data = BitMap(indices).serialize()
    return data, {"datapoints": len(indices), "md5Checksum": hashlib.md5(data).hexdigest()}


def parquet_table(n_rows: int) -> tuple[bytes, Any]:
    import pandas as pd

    df = pd.DataFrame({"x": [float(i) for i in range(n_rows)], "y": [float(i) * 2.0 for i in range(n_rows)]})
    buf = io.BytesIO()
    df.to_parquet(buf, engine="pyarrow", index=False)
    return buf.getvalue(), df


def v1_dataset_body(name: str, owner: str, table: bytes, df: Any, *, access: str = "public") -> dict[str, Any]:
    from polaris.checksum_rows import table_md5

    slug = name.lower().replace("_", "-")
    annotations = {
        c: {"isPointer": False, "modality": "UNKNOWN", "userAttributes": {}, "dtype": "float64"} for c in df.columns
    }
    return {
        "tableContent": {"size": len(table), "fileType": "parquet", "md5Sum": hashlib.md5(table).hexdigest()},
        "zarrContent": [],
        "access": access,
        "name": name,
        "description": "a protocol test dataset",
        "tags": [],
        "userAttributes": {},
        "owner": owner,
        "polarisVersion": "0.10.0",
        "defaultAdapters": {},
        "zarrRootPath": None,
        "readme": "",
        "annotations": annotations,
        "source": None,
        "license": "CC0-1.0",
        "curationReference": None,
        "md5Sum": table_md5(df),
        "slug": slug,
        "artifactId": f"{owner}/{slug}",
        "urn": f"urn:polaris:dataset:{owner}:{slug}",
        "nRows": len(df),
        "nColumns": len(df.columns),
        "zarrMd5SumManifest": [],
    }


def zarr_archive(columns: dict[str, Any]) -> tuple[dict[str, bytes], bytes, str]:
    """A consolidated Zarr (format 2) archive of float columns: ({relative path: bytes}, manifest bytes, md5)."""
    import numpy as np
    import zarr

    from polaris.checksum_zarr import write_zarr_manifest

    with tempfile.TemporaryDirectory(prefix="hub9-zarr-") as tmp:
        root = Path(tmp) / "data.zarr"
        group = zarr.open_group(str(root), mode="w", zarr_format=2)
        for name, values in columns.items():
            arr = group.create_array(name, shape=(len(values),), chunks=(16,), dtype="float64")
            arr[:] = np.asarray(values, dtype=np.float64)
        zarr.consolidate_metadata(str(root))
        manifest_path = Path(tmp) / "zarr_manifest.parquet"
        manifest_md5 = write_zarr_manifest(root, manifest_path)
        files = {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
        return files, manifest_path.read_bytes(), manifest_md5


def v2_dataset_body(
    name: str, owner: str, manifest_md5: str, columns: list[str], n_rows: int, *, access: str = "public"
) -> dict[str, Any]:
    slug = name.lower().replace("_", "-")
    return {
        "access": access,
        "name": name,
        "description": "a protocol test V2 dataset",
        "tags": [],
        "userAttributes": {},
        "owner": owner,
        "polarisVersion": "0.11.10",
        "defaultAdapters": {},
        "zarrRootPath": "/home/someone/data.zarr",
        "readme": "",
        "annotations": {
            c: {"isPointer": False, "modality": "UNKNOWN", "userAttributes": {}, "dtype": "float64"} for c in columns
        },
        "source": None,
        "license": "CC0-1.0",
        "curationReference": None,
        "zarrManifestFileContent": {"md5Sum": manifest_md5},
        "slug": slug,
        "artifactId": f"{owner}/{slug}",
        "urn": f"urn:polaris:dataset:{owner}:{slug}",
        "version": 2,
        "nRows": n_rows,
        "nColumns": len(columns),
    }


def v2_benchmark_body(
    name: str, owner: str, dataset_id: str, training: dict[str, Any], test: dict[str, Any], *, access: str = "public"
) -> dict[str, Any]:
    """What ``BenchmarkV2Specification`` dumps for ``PUT /v2/benchmark`` (0.11.10, facts §5.1)."""
    slug = name.lower().replace("_", "-")
    return {
        "access": access,
        "datasetArtifactId": dataset_id,
        "split": {"training": training, "test": test},
        "name": name,
        "description": "a protocol test V2 benchmark",
        "tags": [],
        "userAttributes": {},
        "owner": owner,
        "polarisVersion": "0.11.10",
        "targetCols": ["y"],
        "inputCols": ["x"],
        "metrics": METRICS,
        "mainMetric": "mean_absolute_error",
        "targetTypes": {},
        "readme": "",
        "nClasses": {},
        "slug": slug,
        "artifactId": f"{owner}/{slug}",
        "urn": f"urn:polaris:benchmark:{owner}:{slug}",
        "version": 2,
        "taskType": "single_task",
        "nTrainDatapoints": training["datapoints"],
        "nTestSets": 1,
        "nTestDatapoints": {"test": test["datapoints"]},
        "testSetSizes": {"test": test["datapoints"]},
        "testSetLabels": ["test"],
    }


def upload_v2_dataset(
    hub: LocalHub, token: str, owner: str, name: str, n_rows: int = 40, *, access: str = "public", region: str = "auto"
) -> tuple[str, dict[str, bytes]]:
    """A V2 dataset the 0.11 way: ``PUT /v2/dataset/{owner}/{name}``, write exchange, manifest + Zarr files.

    Returns the slug and the archive's files."""
    files, manifest, manifest_md5 = zarr_archive({"x": range(n_rows), "y": [2.0 * i for i in range(n_rows)]})
    body = v2_dataset_body(name, owner, manifest_md5, ["x", "y"], n_rows, access=access)
    answer = httpx.put(f"{hub.api_url}/v2/dataset/{owner}/{name}", json=body, headers=bearer(token), timeout=30)
    assert answer.status_code in (200, 201), answer.text
    slug = str(answer.json()["slug"])
    store = Storage(hub, token, f"urn:polaris:dataset:{owner}:{slug}", "write", region=region)
    root = Storage.key(store.paths["root"])
    for rel, data in files.items():
        store.put(f"{root}/{rel}", data)
    store.put(Storage.key(store.paths["manifest"]), manifest, "application/vnd.apache.parquet")
    return slug, files


def read_zarr_columns(fetch: Any, columns: list[str]) -> dict[str, Any]:
    """Read 1-D columns of a consolidated Zarr v2 archive the way polaris-lib does: ``.zmetadata``, then the chunks.

    ``fetch(key)`` returns the bytes of one key relative to the archive root, or None when it is missing (a missing
    chunk is the fill value)."""
    import json

    import numpy as np
    import zarr

    meta_bytes = fetch(".zmetadata")
    assert meta_bytes is not None, "the archive has no .zmetadata"
    metadata = json.loads(meta_bytes)["metadata"]
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="hub9-read-") as tmp:
        root = Path(tmp)
        for name, content in metadata.items():  # the consolidated metadata stands in for the per-node files
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(json.dumps(content))
        for col in columns:
            array_meta = metadata[f"{col}/.zarray"]
            n_chunks = -(-array_meta["shape"][0] // array_meta["chunks"][0])
            for i in range(n_chunks):
                data = fetch(f"{col}/{i}")
                if data is not None:
                    (root / col / str(i)).write_bytes(data)
            out[col] = np.asarray(zarr.open_array(str(root / col), mode="r", zarr_format=2)[:])
    return out
