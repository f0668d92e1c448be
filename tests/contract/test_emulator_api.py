"""The local Hub's REST API over real HTTP: shapes (checked against openapi/hub.yaml), access rules, storage tokens,
bad input. Uses the session ``local_hub`` (seeded demo) from the polaris pytest plugin."""

from __future__ import annotations

import concurrent.futures
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse

from polaris.testing import LocalHub

SPEC = Path(__file__).resolve().parents[2] / "openapi" / "hub.yaml"
HTTP_TIMEOUT = 30.0
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
TT_JWT = "urn:ietf:params:oauth:token-type:jwt"


@pytest.fixture(scope="module")
def hub(_polaris_session_hub: LocalHub) -> LocalHub:
    return _polaris_session_hub


@pytest.fixture(scope="module")
def spec(hub: LocalHub) -> OpenAPI:
    data = yaml.safe_load(SPEC.read_text())
    data["servers"] = [{"url": hub.api_url}]
    for item in data["paths"].values():
        item.pop("servers", None)
    return OpenAPI.from_dict(data)


@pytest.fixture(scope="module")
def http(hub: LocalHub) -> Any:
    with httpx.Client(base_url=hub.url, timeout=HTTP_TIMEOUT) as client:
        yield client


def conform(spec: OpenAPI, response: httpx.Response) -> httpx.Response:
    """Assert the response is what openapi/hub.yaml says for its request."""
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


def password_token(http: httpx.Client, user: str, password: str) -> str:
    r = http.post(
        "api/auth/token", data={"grant_type": "password", "username": user, "password": password, "client_id": "None"}
    )
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


@pytest.fixture(scope="module")
def demo_token(http: httpx.Client) -> str:
    return password_token(http, "demo-user", "demo-password")


@pytest.fixture(scope="module")
def other_token(http: httpx.Client) -> str:
    return password_token(http, "other-user", "other-password")


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def storage(http: httpx.Client, token: str, resource: str, scope: str) -> httpx.Response:
    return http.post(
        "api/auth/token",
        data={
            "grant_type": TOKEN_EXCHANGE,
            "subject_token": token,
            "subject_token_type": TT_JWT,
            "requested_token_type": TT_JWT,
            "resource": resource,
            "scope": scope,
            "client_id": "None",
        },
    )


# The bytes every test dataset declares in tableContent; a dataset is published once they are stored.
TABLE_BYTES = b"PAR1 stand-in table bytes of a contract-test dataset PAR1"


def store_table(hub: LocalHub, owner: str, slug: str, data: bytes = TABLE_BYTES) -> None:
    """Put the dataset's table straight into moto (the uploader's second step), so its upload is complete."""
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=hub.s3_direct_endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
    )
    s3.put_object(Bucket="polaris-hub", Key=f"dataset/{owner}/{slug}/table.parquet", Body=data)


def dataset_body(name: str, owner: str, access: str = "private", **extra: Any) -> dict[str, Any]:
    import hashlib

    body: dict[str, Any] = {
        "tableContent": {
            "size": len(TABLE_BYTES),
            "fileType": "parquet",
            "md5Sum": hashlib.md5(TABLE_BYTES).hexdigest(),
        },
        "zarrContent": [],
        "access": access,
        "name": name,
        "description": "test",
        "tags": [],
        "userAttributes": {},
        "owner": owner,
        "polarisVersion": "0.10.0",
        "defaultAdapters": {},
        "readme": "",
        "annotations": {"x": {"isPointer": False, "modality": "UNKNOWN", "userAttributes": {}, "dtype": "float64"}},
        "license": "CC0-1.0",
        "md5Sum": "a" * 32,
        "slug": name.lower().replace("_", "-"),
        "artifactId": f"{owner}/{name.lower().replace('_', '-')}",
        "urn": f"urn:polaris:dataset:{owner}:{name.lower().replace('_', '-')}",
        "nRows": 3,
        "nColumns": 1,
        "zarrMd5SumManifest": [],
    }
    body.update(extra)
    return body


# --------------------------------------------------------------------------- public reads, shapes
def test_anonymous_list_shows_public_demo_dataset_in_envelope(http: httpx.Client, spec: OpenAPI) -> None:
    r = conform(spec, http.get("api/v1/dataset", params={"limit": 100, "offset": 0}))
    assert r.status_code == 200
    body = r.json()
    assert body["metadata"]["total"] >= 1 and body["metadata"]["limit"] == 100
    ids = [d["artifactId"] for d in body["data"]]
    assert "polaris-demo/freesolv" in ids
    item = body["data"][ids.index("polaris-demo/freesolv")]
    assert item["owner"] == {"slug": "polaris-demo", "externalId": item["owner"]["externalId"], "type": "organization"}
    assert "table" not in item


def test_get_dataset_by_name_or_slug_returns_md5(http: httpx.Client, spec: OpenAPI) -> None:
    a = conform(spec, http.get("api/v1/dataset/polaris-demo/freesolv")).json()
    b = http.get("api/v1/dataset/polaris-demo/FreeSolv").json()
    assert a["md5Sum"] == b["md5Sum"] and len(a["md5Sum"]) == 32
    assert a["license"] == "CC-BY-4.0" and a["nRows"] == 642


def test_v1_miss_then_v2_dataset(http: httpx.Client, spec: OpenAPI) -> None:
    assert conform(spec, http.get("api/v1/dataset/polaris-demo/freesolv-zarr")).status_code == 404
    r = conform(spec, http.get("api/v2/dataset/polaris-demo/freesolv_zarr"))
    assert r.status_code == 200 and r.json()["nRows"] == 100


def test_benchmark_embeds_dataset_and_competition_owner_is_string(http: httpx.Client, spec: OpenAPI) -> None:
    bench = conform(spec, http.get("api/v1/benchmark/polaris-demo/freesolv-hydration-free-energy")).json()
    assert bench["dataset"]["owner"]["slug"] == "polaris-demo" and bench["dataset"]["name"] == "freesolv"
    assert bench["mainMetric"] == "mean_absolute_error" and isinstance(bench["split"][1], dict)
    listed = conform(spec, http.get("api/v1/benchmark")).json()["data"]
    assert any(b["owner"]["slug"] == "polaris-demo" for b in listed)
    comp = conform(spec, http.get("api/v2/competition/polaris-demo/freesolv-challenge")).json()
    assert comp["owner"] == "polaris-demo"
    assert "labels" not in json.dumps(comp)
    comps = conform(spec, http.get("api/v2/competition")).json()["data"]
    assert comps[0]["owner"]["slug"] == "polaris-demo"
    cds = conform(spec, http.get("api/v2/competition/dataset/polaris-demo/freesolv-challenge")).json()
    assert cds["maskedMd5Sum"] != cds["md5Sum"]


# --------------------------------------------------------------------------- access rules
def test_write_without_token_is_401(http: httpx.Client, spec: OpenAPI) -> None:
    r = conform(spec, http.put("api/v1/dataset/demo-user/no-token", json=dataset_body("no-token", "demo-user")))
    assert r.status_code == 401 and "message" in r.json()


def test_bad_token_is_401(http: httpx.Client, spec: OpenAPI) -> None:
    r = conform(spec, http.get("api/v1/dataset", headers=auth("not-a-jwt")))
    assert r.status_code == 401


def test_write_for_foreign_owner_is_403(http: httpx.Client, spec: OpenAPI, other_token: str) -> None:
    r = http.put(
        "api/v1/dataset/polaris-demo/intruder", json=dataset_body("intruder", "polaris-demo"), headers=auth(other_token)
    )
    assert conform(spec, r).status_code == 403
    assert http.get("api/v1/dataset/polaris-demo/intruder").status_code == 404


def test_member_writes_for_org_and_private_is_hidden_from_others(
    http: httpx.Client, hub: LocalHub, spec: OpenAPI, demo_token: str, other_token: str
) -> None:
    r = http.put(
        "api/v1/dataset/polaris-demo/org_private",
        json=dataset_body("org_private", "polaris-demo"),
        headers=auth(demo_token),
    )
    assert conform(spec, r).status_code in (200, 201)
    assert r.json()["owner"]["type"] == "organization" and r.json()["access"] == "private"
    store_table(hub, "polaris-demo", "org-private")
    assert http.get("api/v1/dataset/polaris-demo/org-private", headers=auth(demo_token)).status_code == 200
    assert http.get("api/v1/dataset/polaris-demo/org-private", headers=auth(other_token)).status_code == 404
    assert http.get("api/v1/dataset/polaris-demo/org-private").status_code == 404
    ids = [d["artifactId"] for d in http.get("api/v1/dataset", headers=auth(other_token)).json()["data"]]
    assert "polaris-demo/org-private" not in ids
    ids = [d["artifactId"] for d in http.get("api/v1/dataset", headers=auth(demo_token)).json()["data"]]
    assert "polaris-demo/org-private" in ids


def test_replace_answers_200_and_keeps_one_row(http: httpx.Client, hub: LocalHub, demo_token: str) -> None:
    body = dataset_body("replace-me", "demo-user", access="public")
    first = http.put("api/v1/dataset/demo-user/replace-me", json=body, headers=auth(demo_token))
    body["description"] = "second"
    second = http.put("api/v1/dataset/demo-user/replace-me", json=body, headers=auth(demo_token))
    assert (first.status_code, second.status_code) == (201, 200)
    store_table(hub, "demo-user", "replace-me")
    assert http.get("api/v1/dataset/demo-user/replace-me").json()["description"] == "second"


def test_concurrent_puts_leave_one_consistent_artifact(http: httpx.Client, hub: LocalHub, demo_token: str) -> None:
    def put(i: int) -> int:
        body = dataset_body("race-data", "demo-user", access="public", description=f"writer-{i}", nRows=i + 1)
        with httpx.Client(base_url=hub.url, timeout=HTTP_TIMEOUT) as c:
            return c.put("api/v1/dataset/demo-user/race-data", json=body, headers=auth(demo_token)).status_code

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(put, range(16)))
    assert codes.count(201) == 1 and codes.count(200) == 15
    store_table(hub, "demo-user", "race-data")
    final = http.get("api/v1/dataset/demo-user/race-data").json()
    assert final["nRows"] == int(final["description"].split("-")[1]) + 1
    listed = [
        d
        for d in http.get("api/v1/dataset", params={"limit": 1000}).json()["data"]
        if d["artifactId"] == "demo-user/race-data"
    ]
    assert len(listed) == 1


def test_results_are_owned_by_uploader(http: httpx.Client, spec: OpenAPI, demo_token: str) -> None:
    body = {
        "access": "public", "name": "my-results", "description": "", "tags": [], "userAttributes": {},
        "owner": "demo-user", "polarisVersion": "0.10.0", "contributors": [],
        "results": [{"testSet": "test", "targetLabel": "expt", "scores": {"r2": 0.5, "mean_absolute_error": 1.1}}],
        "benchmarkArtifactId": "polaris-demo/freesolv-hydration-free-energy",
    }  # fmt: skip
    r = conform(spec, http.post("api/v2/result", json=body, headers=auth(demo_token)))
    assert r.status_code == 201 and r.json()["owner"]["slug"] == "demo-user"
    location = r.headers["Content-Location"]
    assert location.startswith("/benchmarks/polaris-demo/freesolv-hydration-free-energy/results/")
    page = http.get(location.lstrip("/"))
    assert page.status_code == 200 and "my-results" in page.text
    body["owner"] = "polaris-demo"
    assert conform(spec, http.post("api/v2/result", json=body, headers=auth(demo_token))).status_code == 403
    body["owner"] = "demo-user"
    assert http.post("api/v2/result", json=body).status_code == 401
    body["benchmarkArtifactId"] = "polaris-demo/no-such-benchmark"
    assert conform(spec, http.post("api/v2/result", json=body, headers=auth(demo_token))).status_code == 404


# --------------------------------------------------------------------------- storage tokens
def test_storage_token_read_public_dataset(http: httpx.Client, spec: OpenAPI, other_token: str) -> None:
    r = conform(spec, storage(http, other_token, "urn:polaris:dataset:polaris-demo:freesolv", "read"))
    assert r.status_code == 200, r.text
    tok = r.json()
    assert tok["token_type"] == "Storage" and tok["issued_token_type"] == TT_JWT and "refresh_token" not in tok
    extra = tok["extra_data"]
    assert set(extra) == {"key", "secret", "endpoint", "paths"}
    assert extra["paths"] == {"root": "polarisfs://polaris-hub/dataset/polaris-demo/freesolv/table.parquet"}
    # the bytes are there, and their md5 is the one in tableContent
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=extra["endpoint"],
        aws_access_key_id=extra["key"],
        aws_secret_access_key=extra["secret"],
        aws_session_token="jwt/" + tok["access_token"],
        region_name="us-east-1",
    )
    obj = s3.get_object(Bucket="polaris-hub", Key="dataset/polaris-demo/freesolv/table.parquet")["Body"].read()
    import hashlib

    meta = http.get("api/v1/dataset/polaris-demo/freesolv").json()
    assert hashlib.md5(obj).hexdigest() == meta["tableContent"]["md5Sum"]
    # and the content checksum a client verifies on download matches the table
    import io

    import pandas as pd

    from polaris.checksum_rows import table_md5

    assert table_md5(pd.read_parquet(io.BytesIO(obj))) == meta["md5Sum"]


def test_storage_token_paths_v2_and_pointer_columns(http: httpx.Client, demo_token: str) -> None:
    v2 = storage(http, demo_token, "urn:polaris:dataset:polaris-demo:freesolv-zarr", "read").json()
    base = "polarisfs://polaris-hub/dataset/polaris-demo/freesolv-zarr"
    assert v2["extra_data"]["paths"] == {"root": f"{base}/data.zarr", "manifest": f"{base}/zarr_manifest.parquet"}
    body = dataset_body(
        "with-zarr",
        "demo-user",
        zarrRootPath="polarisfs://data.zarr",
        annotations={"x": {"isPointer": True, "modality": "UNKNOWN", "userAttributes": {}, "dtype": "object"}},
    )
    assert http.put("api/v1/dataset/demo-user/with-zarr", json=body, headers=auth(demo_token)).status_code in (200, 201)
    paths = storage(http, demo_token, "urn:polaris:dataset:demo-user:with_zarr", "write").json()["extra_data"]["paths"]
    assert paths["extension"] == "polarisfs://polaris-hub/dataset/demo-user/with-zarr/data.zarr"


def test_storage_scope_and_ownership_enforced(
    http: httpx.Client, spec: OpenAPI, demo_token: str, other_token: str
) -> None:
    write_other = conform(spec, storage(http, other_token, "urn:polaris:dataset:polaris-demo:freesolv", "write"))
    assert write_other.status_code == 403 and write_other.json()["error"] == "access_denied"
    assert storage(http, demo_token, "urn:polaris:dataset:polaris-demo:freesolv", "write").status_code == 200
    bad_scope = conform(spec, storage(http, demo_token, "urn:polaris:dataset:polaris-demo:freesolv", "admin"))
    assert bad_scope.status_code == 400 and bad_scope.json()["error"] == "invalid_scope"
    private = storage(http, other_token, "urn:polaris:dataset:polaris-demo:org-private", "read")
    assert private.status_code == 400 and private.json()["error"] == "invalid_target"
    not_jwt = storage(http, "garbage", "urn:polaris:dataset:polaris-demo:freesolv", "read")
    assert not_jwt.status_code == 400 and not_jwt.json()["error"] == "invalid_grant"
    comp = storage(http, other_token, "urn:polaris:dataset:polaris-demo:freesolv-challenge", "read").json()
    assert comp["extra_data"]["paths"]["root"].endswith(
        "competition-dataset/polaris-demo/freesolv-challenge/table.parquet"
    )


# --------------------------------------------------------------------------- competitions
def test_evaluate_scores_against_hidden_labels(http: httpx.Client, spec: OpenAPI, demo_token: str) -> None:
    comp = http.get("api/v2/competition/polaris-demo/freesolv-challenge").json()
    n = comp["testSetSizes"]["test"]
    body = {
        "predictions": {"test": {"expt": [-3.0] * n}}, "target_labels": ["expt"], "test_set_labels": ["test"],
        "test_set_sizes": {"test": n}, "name": None, "description": "", "tags": [], "user_attributes": {},
        "owner": None, "polaris_version": "0.10.0", "github_url": None, "paper_url": None, "contributors": [],
        "access": "private", "slug": None, "artifact_id": None, "urn": None,
    }  # fmt: skip
    r = conform(
        spec,
        http.post("api/v2/competition/polaris-demo/freesolv-challenge/evaluate", json=body, headers=auth(demo_token)),
    )
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["id"] and out["results"][0]["testSet"] == "test"
    scores = out["results"][0]["scores"]
    assert scores["mean_absolute_error"] > 0 and set(scores) == {"mean_absolute_error", "r2", "spearmanr"}
    short = dict(body, predictions={"test": {"expt": [1.0]}})
    bad = conform(
        spec,
        http.post("api/v2/competition/polaris-demo/freesolv-challenge/evaluate", json=short, headers=auth(demo_token)),
    )
    assert bad.status_code == 422 and "length" in bad.json()["message"]
    assert http.post("api/v2/competition/polaris-demo/freesolv-challenge/evaluate", json=body).status_code == 401


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("content", "ctype", "status"),
    [
        (b"{not json", "application/json", 400),
        (b"[1, 2]", "application/json", 400),
        (b'{"md5Sum": 12}', "application/json", 400),
        (
            b'{"tableContent": {"size": 1, "fileType": "parquet", "md5Sum": "'
            + b"a" * 32
            + b'"}, "md5Sum": "'
            + b"a" * 32
            + b'", "surprise": 1}',
            "application/json",
            422,
        ),
        (
            b'{"tableContent": {"size": 1, "fileType": "parquet", "md5Sum": "'
            + b"a" * 32
            + b'"}, "md5Sum": "'
            + b"a" * 32
            + b'", "license": "WTFPL"}',
            "application/json",
            400,
        ),
    ],
)
def test_bad_bodies_are_4xx_json_and_change_nothing(
    http: httpx.Client, spec: OpenAPI, demo_token: str, content: bytes, ctype: str, status: int
) -> None:
    r = http.put(
        "api/v1/dataset/demo-user/bad-body", content=content, headers={**auth(demo_token), "Content-Type": ctype}
    )
    assert r.status_code == status, r.text
    assert isinstance(r.json()["message"], str)
    conform(spec, r)
    assert http.get("api/v1/dataset/demo-user/bad-body", headers=auth(demo_token)).status_code == 404


def test_invalid_slug_and_limits_are_400(http: httpx.Client, spec: OpenAPI) -> None:
    assert conform(spec, http.get("api/v1/dataset/polaris-demo/bad%20name")).status_code == 400
    assert conform(spec, http.get("api/v1/dataset", params={"limit": 0})).status_code == 400
    assert conform(spec, http.get("api/v1/dataset", params={"offset": "x"})).status_code == 400


def test_oversize_body_is_413(http: httpx.Client, demo_token: str) -> None:
    big = b'{"readme": "' + b"x" * (17 * 1024 * 1024) + b'"}'
    r = http.put(
        "api/v1/dataset/demo-user/huge", content=big, headers={**auth(demo_token), "Content-Type": "application/json"}
    )
    assert r.status_code == 413 and "larger" in r.json()["message"]


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"grant_type": "password", "username": "demo-user", "password": "wrong"}, "invalid_grant"),
        ({"grant_type": "password", "username": "demo-user"}, "invalid_request"),
        ({"grant_type": "client_credentials"}, "invalid_request"),
        (
            {
                "grant_type": TOKEN_EXCHANGE,
                "subject_token": "x",
                "subject_token_type": "urn:ietf:params:oauth:token-type:access_token",
            },
            "invalid_grant",
        ),
        ({"subject_token": "x"}, "invalid_request"),
    ],
)
def test_token_endpoint_errors_are_rfc6749(http: httpx.Client, spec: OpenAPI, form: dict[str, str], error: str) -> None:
    r = conform(spec, http.post("api/auth/token", data={**form, "client_id": "None"}))
    assert r.status_code == 400
    assert r.json()["error"] == error and "error_description" in r.json()


def test_hub_token_shape_has_no_refresh_token(http: httpx.Client, spec: OpenAPI) -> None:
    r = conform(
        spec,
        http.post(
            "api/auth/token",
            data={"grant_type": "password", "username": "demo-user", "password": "demo-password", "client_id": "None"},
        ),
    )
    tok = r.json()
    assert tok["token_type"] == "Bearer" and tok["expires_in"] == 3600 and "refresh_token" not in tok


def test_injected_faults_then_normal_service(hub: LocalHub, http: httpx.Client) -> None:
    hub.inject_fault("/api/v1/benchmark", status=503, count=2, method="GET", retry_after=1)
    first = http.get("api/v1/benchmark")
    second = http.get("api/v1/benchmark")
    third = http.get("api/v1/benchmark")
    assert (first.status_code, second.status_code, third.status_code) == (503, 503, 200)
    assert first.headers["Retry-After"] == "1"
    hub.inject_fault("/api/v1/dataset", status=500, count=5)
    hub.clear_faults()
    assert http.get("api/v1/dataset").status_code == 200
    assert http.get("__emulator__/health").status_code == 200


def test_web_pages_for_printed_links(http: httpx.Client) -> None:
    for path in (
        "datasets/polaris-demo/freesolv",
        "v1/benchmark/polaris-demo/freesolv-hydration-free-energy",
        "benchmarks/polaris-demo/freesolv-hydration-free-energy",
        "competitions/polaris-demo/freesolv-challenge",
        "competition/datasets/polaris-demo/freesolv-challenge",
    ):
        r = http.get(path)
        assert r.status_code == 200 and "polaris-demo" in r.text, path
    assert http.get("datasets/polaris-demo/org-private").status_code == 404
