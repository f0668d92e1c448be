"""One running local Hub, four client generations: each test sends exactly the requests polaris-lib 0.10, 0.11, 0.12
or 0.13 sends (bodies, headers, query parameters, storage exchanges, order; from shared/hub-api-facts*.md) with
httpx and boto3, and checks the answers field by field. The cross-generation tests read with one generation what
another uploaded. Every REST answer is also checked against openapi/hub.yaml."""

from __future__ import annotations

import hashlib
import io
from typing import Any

import httpx
import numpy as np
import pytest
from hubproto import (
    METRICS,
    ROARING_TYPE,
    Storage,
    bearer,
    conform,
    load_spec,
    parquet_table,
    password_token,
    read_zarr_columns,
    roaring,
    unique,
    upload_v2_dataset,
    v1_dataset_body,
    v2_benchmark_body,
)
from openapi_core import OpenAPI

from polaris.testing import LocalHub

DEMO = "polaris-demo"
LIMIT = 100


@pytest.fixture(scope="module")
def hub(_polaris_session_hub: LocalHub) -> LocalHub:
    return _polaris_session_hub


@pytest.fixture(scope="module")
def spec(hub: LocalHub) -> OpenAPI:
    return load_spec(hub)


@pytest.fixture
def api(hub: LocalHub, spec: OpenAPI) -> Any:
    """An httpx client on api_url whose every answer is checked against the spec."""

    def check(response: httpx.Response) -> None:
        response.read()
        conform(spec, response)

    with httpx.Client(base_url=hub.api_url + "/", timeout=30.0, event_hooks={"response": [check]}) as client:
        yield client


def merged_list(api: httpx.Client, kind: str, headers: dict[str, str], *, read: str) -> list[str]:
    """The 0.11+ list: V2 page first, then V1 with ``limit - len(v2)`` and ``offset = max(0, offset - total)``."""
    offset = 0
    v2 = api.get(f"v2/{kind}", params={"limit": LIMIT, "offset": offset}, headers=headers)
    assert v2.status_code == 200
    page = v2.json()
    total = page["metadata"]["total"]
    assert isinstance(total, int)
    items = list(page["data"])
    if len(items) < LIMIT:
        v1 = api.get(
            f"v1/{kind}", params={"limit": LIMIT - len(items), "offset": max(0, offset - total)}, headers=headers
        )
        assert v1.status_code == 200
        items += v1.json()["data"]
    if read == "artifactId":
        return [str(i["artifactId"]) for i in items]
    return [f"{i['owner']['slug']}/{i['name']}" for i in items]  # 0.11 benchmarks: owner object + name


def table_md5_of(data: bytes) -> str:
    import pandas as pd

    from polaris.checksum_rows import table_md5

    return table_md5(pd.read_parquet(io.BytesIO(data)))


def s3_fetcher(store: Storage, root_key: str) -> Any:
    def fetch(rel: str) -> bytes | None:
        try:
            return store.get(f"{root_key}/{rel}")
        except store.s3.exceptions.NoSuchKey:
            return None

    return fetch


def http_fetcher(root_url: str) -> Any:
    def fetch(rel: str) -> bytes | None:
        answer = httpx.get(f"{root_url}/{rel}", timeout=30)  # fsspec's mapper: plain GETs, 404 = missing
        if answer.status_code == 404:
            return None
        assert answer.status_code == 200, answer.text
        return answer.content

    return fetch


def http_file(url: str) -> bytes:
    """What fsspec does with a file URL: HEAD for the size, then one GET of bytes=0-<size-1>."""
    head = httpx.head(url, timeout=30)
    assert head.status_code == 200, url
    size = int(head.headers["content-length"])
    answer = httpx.get(url, headers={"Range": f"bytes=0-{size - 1}"}, timeout=30)
    assert answer.status_code == 206 and answer.headers["content-range"] == f"bytes 0-{size - 1}/{size}"
    assert len(answer.content) == size
    return answer.content


def check_competition_archive(columns: dict[str, Any], comp: dict[str, Any]) -> None:
    train, tests = comp["split"]
    expt = columns["expt"]
    assert len(expt) == len(columns["calc"]) == comp["nRows"]
    assert np.isnan(expt[tests["test"]]).all()  # the test rows' targets are hidden
    assert np.isfinite(expt[train]).all() and np.isfinite(columns["calc"]).all()


# ================================================================================================ 0.10
def test_generation_0_10(hub: LocalHub, api: httpx.Client) -> None:
    token = password_token(hub)
    auth = bearer(token)
    # lists (limit and offset always sent; 0.10 reads V1 only)
    datasets = api.get("v1/dataset", params={"limit": LIMIT, "offset": 0}, headers=auth).json()
    assert f"{DEMO}/freesolv" in [d["artifactId"] for d in datasets["data"]]
    benchmarks = api.get("v1/benchmark", params={"limit": LIMIT, "offset": 0}, headers=auth).json()["data"]
    assert f"{DEMO}/freesolv-hydration-free-energy" in [f"{b['owner']['slug']}/{b['name']}" for b in benchmarks]
    competitions = api.get("v2/competition", params={"limit": LIMIT, "offset": 0}, headers=auth).json()["data"]
    assert f"{DEMO}/freesolv-challenge" in [f"{c['owner']['slug']}/{c['name']}" for c in competitions]

    # upload a V1 dataset: PUT by slug, then a write exchange and PutObject of the table
    table, df = parquet_table(12)
    name = unique("Gen10_Data")
    slug = name.lower().replace("_", "-")
    body = v1_dataset_body(name, "demo-user", table, df, access="public")
    put = api.put(f"v1/dataset/demo-user/{slug}", json=body, headers=auth)
    assert put.status_code == 201 and put.json()["md5Sum"] == body["md5Sum"] and "table" not in put.json()
    store = Storage(hub, token, f"urn:polaris:dataset:demo-user:{slug}", "write")
    assert store.paths == {"root": f"polarisfs://polaris-hub/dataset/demo-user/{slug}/table.parquet"}
    store.put(Storage.key(store.paths["root"]), table, "application/vnd.apache.parquet")

    # get it back by name: metadata, a read exchange, GetObject, the content checksum
    got = api.get(f"v1/dataset/demo-user/{name}", headers=auth).json()
    assert (got["slug"], got["md5Sum"], got["nRows"], got["owner"]["slug"]) == (slug, body["md5Sum"], 12, "demo-user")
    assert got["tableContent"] == body["tableContent"] and "table" not in got
    read = Storage(hub, token, f"urn:polaris:dataset:demo-user:{slug}", "read")
    data = read.get(Storage.key(read.paths["root"]))
    assert data == table and table_md5_of(data) == got["md5Sum"]

    # a benchmark on it: PUT by name, split of index lists
    b_name = unique("Gen10_Bench")
    bench = {
        "name": b_name, "description": "", "tags": [], "userAttributes": {}, "owner": "demo-user",
        "polarisVersion": "0.10.0", "access": "public", "targetCols": ["y"], "inputCols": ["x"],
        "split": [list(range(8)), list(range(8, 12))], "metrics": METRICS, "mainMetric": "mean_absolute_error",
        "readme": "", "targetTypes": {"y": "regression"}, "datasetArtifactId": f"demo-user/{slug}",
    }  # fmt: skip
    b_put = api.put(f"v1/benchmark/demo-user/{b_name}", json=bench, headers=auth)
    assert b_put.status_code == 201, b_put.text
    b_get = api.get(f"v1/benchmark/demo-user/{b_name}", headers=auth).json()
    assert b_get["split"] == [list(range(8)), {"test": list(range(8, 12))}]
    assert b_get["dataset"]["owner"]["slug"] == "demo-user" and b_get["dataset"]["name"] == name
    assert len(b_get["md5Sum"]) == 32 and b_get["testSetSizes"] == {"test": 4}

    # results: POST /v2/result (slug, artifactId, urn, githubUrl/paperUrl as 0.10 sends them)
    result = {
        "name": "gen10-results", "description": "", "tags": [], "userAttributes": {}, "owner": "demo-user",
        "polarisVersion": "0.10.0", "slug": "gen10-results", "artifactId": "demo-user/gen10-results",
        "urn": "urn:polaris:result:demo-user:gen10-results", "access": "private", "githubUrl": None,
        "paperUrl": None, "contributors": [], "benchmarkArtifactId": f"demo-user/{b_get['slug']}",
        "results": [{"testSet": "test", "targetLabel": "y", "scores": {"mean_absolute_error": 0.5, "r2": 0.1}}],
    }  # fmt: skip
    posted = api.post("v2/result", json=result, headers=auth)
    assert posted.status_code == 201 and posted.headers["Content-Location"].startswith("/benchmarks/demo-user/")

    # the 0.10 competition: GET (owner as a slug string), its dataset (maskedMd5Sum), a plain dataset URN, evaluate
    comp = api.get(f"v2/competition/{DEMO}/freesolv-challenge", headers=auth).json()
    assert comp["owner"] == DEMO and comp["dataset"]["name"] == "freesolv-challenge"
    cds = api.get(f"v2/competition/dataset/{DEMO}/freesolv-challenge", headers=auth).json()
    assert len(cds["maskedMd5Sum"]) == 32
    c_read = Storage(hub, token, f"urn:polaris:dataset:{DEMO}:freesolv-challenge", "read")
    masked = c_read.get(Storage.key(c_read.paths["root"]))
    assert table_md5_of(masked) == cds["maskedMd5Sum"]
    n_test = len(comp["split"][1]["test"])
    evaluated = api.post(
        f"v2/competition/{DEMO}/freesolv-challenge/evaluate",
        json={
            "predictions": {"test": {"expt": [0.0] * n_test}},
            "target_labels": ["expt"],
            "test_set_labels": ["test"],
            "test_set_sizes": {"test": n_test},
            "name": None,
            "description": "",
            "tags": [],
            "user_attributes": {},
            "owner": None,
            "polaris_version": "0.10.0",
            "github_url": None,
            "paper_url": None,
            "contributors": [],
            "access": "private",
            "slug": None,
            "artifact_id": None,
            "urn": None,
        },
        headers=auth,
    )
    assert evaluated.status_code == 200 and evaluated.json()["id"]
    assert {m for r in evaluated.json()["results"] for m in r["scores"]} == {"mean_absolute_error", "r2", "spearmanr"}


# ================================================================================================ 0.11
def test_generation_0_11(hub: LocalHub, api: httpx.Client) -> None:
    token = password_token(hub)
    auth = bearer(token)
    # lists: V2 first, then V1 (benchmarks read as owner object + name)
    datasets = merged_list(api, "dataset", auth, read="artifactId")
    assert datasets.index(f"{DEMO}/freesolv-zarr") < datasets.index(f"{DEMO}/freesolv")
    benchmarks = merged_list(api, "benchmark", auth, read="owner+name")
    assert benchmarks.index(f"{DEMO}/freesolv-zarr-expt") < benchmarks.index(f"{DEMO}/freesolv-hydration-free-energy")

    # a V2 dataset: PUT by NAME, Content-Location, a write exchange (region "auto"), manifest + Zarr files
    name = unique("Gen11_Zarr")
    slug, _ = upload_v2_dataset(hub, token, "demo-user", name, n_rows=40, region="auto")
    assert slug == name.lower().replace("_", "-")
    # a V2 benchmark on it: PUT by name, then the two index sets as .roaring files
    train, test = list(range(30)), list(range(30, 40))
    (train_bytes, train_set), (test_bytes, test_set) = roaring(train), roaring(test)
    b_name = unique("Gen11_Bench")
    put = api.put(
        f"v2/benchmark/demo-user/{b_name}",
        json=v2_benchmark_body(b_name, "demo-user", f"demo-user/{slug}", train_set, test_set),
        headers=auth,
    )
    assert put.status_code == 201, put.text
    b_slug = b_name.lower().replace("_", "-")
    assert put.headers["Content-Location"] == f"/benchmarks/demo-user/{b_slug}"
    write = Storage(hub, token, f"urn:polaris:benchmark:demo-user:{b_slug}", "write", region="auto")
    assert set(write.paths) == {"training", "test"} and all(p.endswith(".roaring") for p in write.paths.values())
    write.put(Storage.key(write.paths["training"]), train_bytes, ROARING_TYPE)
    write.put(Storage.key(write.paths["test"]), test_bytes, ROARING_TYPE)

    # get_benchmark: V1 404 -> V2; its dataset (V1 404 -> V2); one read exchange + GetObject per split key
    assert api.get(f"v1/benchmark/demo-user/{b_name}", headers=auth).status_code == 404
    bench = api.get(f"v2/benchmark/demo-user/{b_name}", headers=auth).json()
    d_owner, d_slug = bench["dataset"]["artifactId"].split("/")
    assert api.get(f"v1/dataset/{d_owner}/{d_slug}", headers=auth).status_code == 404
    assert api.get(f"v2/dataset/{d_owner}/{d_slug}", headers=auth).json()["nRows"] == 40
    from pyroaring import BitMap

    for key, expected in (("training", train), ("test", test)):
        read = Storage(hub, token, f"urn:polaris:benchmark:demo-user:{b_slug}", "read", region="auto")
        assert list(BitMap.deserialize(read.get(Storage.key(read.paths[key])))) == expected

    # results on the V2 benchmark (0.11 keys: githubUrl/paperUrl, slug, artifactId, urn, access)
    result = {
        "name": "gen11-results", "description": "", "tags": [], "userAttributes": {}, "owner": "demo-user",
        "polarisVersion": "0.11.10", "githubUrl": "https://example.org/code", "paperUrl": "https://example.org/p",
        "contributors": [], "slug": "gen11-results", "artifactId": "demo-user/gen11-results",
        "urn": "urn:polaris:result:demo-user:gen11-results", "version": 1, "access": "public",
        "benchmarkArtifactId": f"demo-user/{b_slug}",
        "results": [{"testSet": "test", "targetLabel": "y", "scores": {"mean_absolute_error": 0.2, "r2": 0.9}}],
    }  # fmt: skip
    posted = api.post("v2/result", json=result, headers=auth)
    assert posted.status_code == 201 and posted.json()["benchmarkArtifactId"] == f"demo-user/{b_slug}"

    # the 0.11 competition: GET, two read exchanges ({root, manifest}), .zmetadata + chunks, hidden test targets
    comp = api.get(f"v1/competition/{DEMO}/freesolv-zarr-challenge", headers=auth).json()
    assert comp["startTime"] and comp["endTime"] and comp.get("dataset") is None
    for _ in range(2):  # the second exchange comes from the fresh client that opens the Zarr root
        c_store = Storage(hub, token, f"urn:polaris:competition:{DEMO}:freesolv-zarr-challenge", "read", region="auto")
        assert set(c_store.paths) == {"root", "manifest"}
    columns = read_zarr_columns(s3_fetcher(c_store, Storage.key(c_store.paths["root"])), ["calc", "expt"])
    check_competition_archive(columns, comp)
    n_test = comp["testSetSizes"]["test"]
    prediction = {
        "competitionArtifactId": f"{DEMO}/freesolv-zarr-challenge", "name": "gen11-predictions", "owner": "demo-user",
        "description": "", "tags": [], "userAttributes": {}, "polarisVersion": "0.11.10",
        "reportUrl": "https://example.org/r", "githubUrl": "https://example.org/c", "contributors": [],
        "predictions": {"test": {"expt": columns["calc"][comp["split"][1]["test"]].tolist()}},
        "targetLabels": ["expt"], "testSetLabels": ["test"], "testSetSizes": {"test": n_test},
        "slug": "gen11-predictions", "artifactId": "demo-user/gen11-predictions",
        "urn": "urn:polaris:competition-prediction:demo-user:gen11-predictions", "version": 1,
    }  # fmt: skip
    scored = api.post("v1/competition-prediction", json=prediction, headers=auth)
    assert scored.status_code == 201, scored.text
    scores = {m: s for r in scored.json()["results"] for m, s in r["scores"].items()}
    assert 0 < scores["mean_absolute_error"] < 5 and scores["r2"] > 0.5  # calc predicts expt well

    # models (0.11.9+): POST with access, GET one
    m_name = unique("gen11-model")
    model = {"access": "public", "name": m_name, "description": "", "tags": [], "userAttributes": {},
             "owner": "demo-user", "polarisVersion": "0.11.10", "slug": m_name, "readme": "# model",
             "codeUrl": "https://example.org/c", "artifactId": f"demo-user/{m_name}",
             "urn": f"urn:polaris:model:demo-user:{m_name}", "version": 1}  # fmt: skip
    created = api.post("v2/model", json=model, headers=auth)
    assert created.status_code == 201 and created.headers["Content-Location"] == f"/models/demo-user/{m_name}"
    got = api.get(f"v2/model/demo-user/{m_name}", headers=auth).json()
    assert (got["name"], got["readme"], got["codeUrl"], got["access"]) == (
        m_name,
        "# model",
        model["codeUrl"],
        "public",
    )


# ================================================================================================ 0.12
def test_generation_0_12(hub: LocalHub, api: httpx.Client) -> None:
    token = password_token(hub)
    auth = bearer(token)
    benchmarks = merged_list(api, "benchmark", auth, read="artifactId")  # 0.12 reads artifactId
    assert f"{DEMO}/freesolv-zarr-expt" in benchmarks and f"{DEMO}/freesolv-hydration-free-energy" in benchmarks

    # V1 dataset: PUT by slug with artifactVersion + parentArtifactId null; the storage URN uses the answered slug
    table, df = parquet_table(9)
    name = unique("Gen12_Data")
    slug = name.lower().replace("_", "-")
    body = v1_dataset_body(name, "demo-user", table, df) | {"artifactVersion": 1, "parentArtifactId": None}
    first = api.put(f"v1/dataset/demo-user/{slug}", json=body, headers=auth)
    assert first.status_code == 201, first.text  # no more 422 "unknown field 'artifactVersion'"
    answered = first.json()["slug"]
    assert answered == slug and first.json()["artifactVersion"] == 1
    Storage(hub, token, f"urn:polaris:dataset:demo-user:{answered}", "write").put(
        f"dataset/demo-user/{answered}/table.parquet", table
    )
    # the V1-benchmark loader names the dataset by its NAME in the URN (0.12 does not slugify URNs)
    by_name = Storage(hub, token, f"urn:polaris:dataset:demo-user:{name}", "read")
    assert by_name.get(Storage.key(by_name.paths["root"])) == table

    # V2 dataset + V2 benchmark, PUT by slug, then uploads under the answered slugs
    d_slug, _ = upload_v2_dataset(hub, token, "demo-user", unique("gen12-zarr"), n_rows=40)
    train, test = list(range(0, 40, 2)), list(range(1, 40, 2))
    (train_bytes, train_set), (test_bytes, test_set) = roaring(train), roaring(test)
    b_slug = unique("gen12-bench")
    b_body = v2_benchmark_body(b_slug, "demo-user", f"demo-user/{d_slug}", train_set, test_set)
    b_body |= {"polarisVersion": "0.12.1", "artifactVersion": 1, "parentArtifactId": None}
    put = api.put(f"v2/benchmark/demo-user/{b_slug}", json=b_body, headers=auth)
    assert put.status_code == 201 and put.json()["slug"] == b_slug
    write = Storage(hub, token, f"urn:polaris:benchmark:demo-user:{put.json()['slug']}", "write", region="auto")
    write.put(Storage.key(write.paths["training"]), train_bytes, ROARING_TYPE)
    write.put(Storage.key(write.paths["test"]), test_bytes, ROARING_TYPE)
    assert api.get(f"v1/benchmark/demo-user/{b_slug}", headers=auth).status_code == 404
    bench = api.get(f"v2/benchmark/demo-user/{b_slug}", headers=auth).json()
    assert bench["dataset"]["artifactId"] == f"demo-user/{d_slug}"
    from pyroaring import BitMap

    for key in bench["split"]:  # keys only
        read = Storage(hub, token, f"urn:polaris:benchmark:demo-user:{b_slug}", "read", region="auto")
        assert (
            list(BitMap.deserialize(read.get(Storage.key(read.paths[key])))) == {"training": train, "test": test}[key]
        )

    # a model (PUT with access + parentArtifactId), the list, and results naming it (0.12 result keys)
    m_slug = unique("gen12-model")
    model = {"access": "private", "parentArtifactId": None, "name": m_slug, "description": "", "tags": [],
             "userAttributes": {}, "owner": "demo-user", "polarisVersion": "0.12.1", "slug": m_slug, "readme": "",
             "reportUrl": "https://example.org/r", "artifactVersion": 1, "artifactId": f"demo-user/{m_slug}",
             "urn": f"urn:polaris:model:demo-user:{m_slug}", "version": 1}  # fmt: skip
    assert api.put(f"v2/model/demo-user/{m_slug}", json=model, headers=auth).status_code == 201
    listed = api.get("v2/model", params={"limit": LIMIT, "offset": 0}, headers=auth).json()["data"]
    assert f"demo-user/{m_slug}" in [m["artifactId"] for m in listed]
    result = {
        "name": "gen12-results", "description": "", "tags": [], "userAttributes": {}, "owner": "demo-user",
        "polarisVersion": "0.12.1", "code_url": "https://example.org/c", "report_url": "https://example.org/r",
        "contributors": [], "version": 1, "access": "private", "benchmarkArtifactId": f"demo-user/{b_slug}",
        "modelArtifactId": f"demo-user/{m_slug}",
        "results": [{"testSet": "test", "targetLabel": "y", "scores": {"mean_absolute_error": 0.3, "r2": 0.8}}],
    }  # fmt: skip
    posted = api.post("v2/result", json=result, headers=auth)
    assert posted.status_code == 201
    assert (posted.json()["slug"], posted.json()["modelArtifactId"]) == ("gen12-results", f"demo-user/{m_slug}")


# ================================================================================================ 0.13
def test_generation_0_13(hub: LocalHub, api: httpx.Client) -> None:
    anon: dict[str, str] = {}  # every read goes without a token
    datasets = merged_list(api, "dataset", anon, read="artifactId")
    assert f"{DEMO}/freesolv-zarr" in datasets and f"{DEMO}/freesolv" in datasets
    assert f"{DEMO}/freesolv-zarr-expt" in merged_list(api, "benchmark", anon, read="artifactId")
    models = api.get("v2/model", params={"limit": LIMIT, "offset": 0}).json()["data"]
    assert f"{DEMO}/freesolv-linear-baseline" in [m["artifactId"] for m in models]

    # V1 dataset: the root URL (HEAD, then one ranged GET), verified against md5Sum
    d = api.get(f"v1/dataset/{DEMO}/freesolv").json()
    assert "extension" not in d  # no pointer columns
    assert table_md5_of(http_file(d["root"])) == d["md5Sum"]
    # V2 dataset: V1 404, V2 answer, Zarr read through plain GETs
    assert api.get(f"v1/dataset/{DEMO}/freesolv-zarr").status_code == 404
    v2 = api.get(f"v2/dataset/{DEMO}/freesolv-zarr").json()
    columns = read_zarr_columns(http_fetcher(v2["root"]), ["expt", "calc"])
    assert len(columns["expt"]) == v2["nRows"] == 100
    # V2 benchmark: split values are URLs
    from pyroaring import BitMap

    assert api.get(f"v1/benchmark/{DEMO}/freesolv-zarr-expt").status_code == 404
    bench = api.get(f"v2/benchmark/{DEMO}/freesolv-zarr-expt").json()
    sets = {k: BitMap.deserialize(http_file(url)) for k, url in bench["split"].items()}
    assert len(sets["test"]) == bench["testSetSizes"]["test"] and not sets["training"] & sets["test"]
    # competition: root URL of the archive, test targets hidden
    comp = api.get(f"v1/competition/{DEMO}/freesolv-zarr-challenge").json()
    check_competition_archive(read_zarr_columns(http_fetcher(comp["root"]), ["calc", "expt"]), comp)
    # a model
    model = api.get(f"v2/model/{DEMO}/freesolv-linear-baseline").json()
    assert model["name"] == "freesolv-linear-baseline" and model["access"] == "public"

    # authenticated calls: a model and results without `access`
    token = password_token(hub)
    m_slug = unique("gen13-model")
    body = {"parentArtifactId": None, "name": m_slug, "description": "", "tags": [], "userAttributes": {},
            "owner": "demo-user", "polarisVersion": "0.13.0", "slug": m_slug, "readme": "", "artifactVersion": 1,
            "artifactId": f"demo-user/{m_slug}", "urn": f"urn:polaris:model:demo-user:{m_slug}",
            "version": 1}  # fmt: skip
    assert api.put(f"v2/model/demo-user/{m_slug}", json=body, headers=bearer(token)).status_code == 201
    assert api.get(f"v2/model/demo-user/{m_slug}").json()["access"] == "public"  # readable by 0.13 itself
    result = {
        "name": "gen13-results", "description": "", "tags": [], "userAttributes": {}, "owner": "demo-user",
        "polarisVersion": "0.13.0", "contributors": [], "version": 1,
        "benchmarkArtifactId": f"{DEMO}/freesolv-zarr-expt", "modelArtifactId": f"demo-user/{m_slug}",
        "results": [{"testSet": "test", "targetLabel": "expt", "scores": {"mean_absolute_error": 0.6, "r2": 0.7}}],
    }  # fmt: skip
    posted = api.post("v2/result", json=result, headers=bearer(token))
    assert posted.status_code == 201 and posted.json()["access"] == "private"
    assert posted.json()["artifactId"] == "demo-user/gen13-results"


def test_0_13_cannot_reach_private_artifacts(hub: LocalHub, api: httpx.Client) -> None:
    token = password_token(hub)
    table, df = parquet_table(6)
    name = unique("gen13-private")
    body = v1_dataset_body(name, "demo-user", table, df, access="private")
    assert api.put(f"v1/dataset/demo-user/{name}", json=body, headers=bearer(token)).status_code == 201
    Storage(hub, token, f"urn:polaris:dataset:demo-user:{name}", "write").put(
        f"dataset/demo-user/{name}/table.parquet", table
    )
    assert api.get(f"v1/dataset/demo-user/{name}").status_code == 404
    assert f"demo-user/{name}" not in merged_list(api, "dataset", {}, read="artifactId")
    guessed = f"{hub.url}storage/public/dataset/demo-user/{name}/table.parquet"
    assert httpx.head(guessed, timeout=30).status_code == 404
    assert httpx.get(guessed, headers={"Range": "bytes=0-10"}, timeout=30).status_code == 404


# ================================================================================================ across generations
def test_v2_benchmark_uploaded_the_0_11_way_is_read_the_0_13_way(hub: LocalHub, api: httpx.Client) -> None:
    from pyroaring import BitMap

    token = password_token(hub)
    d_slug, _ = upload_v2_dataset(hub, token, "demo-user", unique("Cross_Zarr"), n_rows=40, region="auto")
    train, test = [0, 5, 9, 33], [1, 2, 3, 39]
    (train_bytes, train_set), (test_bytes, test_set) = roaring(train), roaring(test)
    b_name = unique("Cross_Bench")
    body = v2_benchmark_body(b_name, "demo-user", f"demo-user/{d_slug}", train_set, test_set)
    assert api.put(f"v2/benchmark/demo-user/{b_name}", json=body, headers=bearer(token)).status_code == 201
    b_slug = b_name.lower().replace("_", "-")
    write = Storage(hub, token, f"urn:polaris:benchmark:demo-user:{b_slug}", "write", region="auto")
    write.put(Storage.key(write.paths["training"]), train_bytes, ROARING_TYPE)
    write.put(Storage.key(write.paths["test"]), test_bytes, ROARING_TYPE)
    # 0.13: anonymous GET, split URLs read over HTTP, bytes equal to pyroaring's serialisation
    bench = api.get(f"v2/benchmark/demo-user/{b_slug}").json()
    got = {k: http_file(url) for k, url in bench["split"].items()}
    assert got == {"training": BitMap(train).serialize(), "test": BitMap(test).serialize()}
    assert hashlib.md5(got["test"]).hexdigest() == bench["splitContent"]["test"]["md5Checksum"]
    dataset = api.get(f"v2/dataset/{bench['dataset']['artifactId']}").json()
    columns = read_zarr_columns(http_fetcher(dataset["root"]), ["x", "y"])
    assert columns["y"][test].tolist() == [2.0 * i for i in test]


def test_versioned_dataset_is_readable_under_both_slugs_by_every_generation(hub: LocalHub, api: httpx.Client) -> None:
    token = password_token(hub)
    auth = bearer(token)
    name = unique("Cross_Versions")
    slug = name.lower().replace("_", "-")
    tables = {}
    for version, rows in ((1, 5), (2, 8)):
        table, df = parquet_table(rows)
        body = v1_dataset_body(name, "demo-user", table, df) | {"artifactVersion": 1, "parentArtifactId": None}
        if version == 2:
            body |= {"parentArtifactId": f"demo-user/{slug}", "artifactChangelog": "three more rows"}
        put = api.put(f"v1/dataset/demo-user/{slug}", json=body, headers=auth)  # 0.12: same path, parent in body
        assert put.status_code == 201, put.text
        answered = put.json()["slug"]
        Storage(hub, token, f"urn:polaris:dataset:demo-user:{answered}", "write").put(
            f"dataset/demo-user/{answered}/table.parquet", table
        )
        tables[answered] = (table, body["md5Sum"], version)
    assert sorted(tables) == [slug, f"{slug}-v2"]
    for s, (table, md5, version) in tables.items():
        # 0.10 / 0.11 / 0.12: GET with a token, a read exchange, GetObject
        got = api.get(f"v1/dataset/demo-user/{s}", headers=auth).json()
        assert (got["md5Sum"], got["artifactVersion"], got["name"]) == (md5, version, name)
        read = Storage(hub, token, f"urn:polaris:dataset:demo-user:{s}", "read")
        assert read.get(Storage.key(read.paths["root"])) == table
        # 0.13: anonymous GET and the root URL
        public = api.get(f"v1/dataset/demo-user/{s}").json()
        assert http_file(public["root"]) == table and table_md5_of(table) == public["md5Sum"]
    listed = merged_list(api, "dataset", {}, read="artifactId")
    assert f"demo-user/{slug}" in listed and f"demo-user/{slug}-v2" in listed


def test_0_10_upload_is_read_by_0_13_and_0_11_model_by_0_13(hub: LocalHub, api: httpx.Client) -> None:
    token = password_token(hub)
    table, df = parquet_table(4)
    name = unique("old-upload")
    body = v1_dataset_body(name, "demo-user", table, df)  # a 0.10 body: no version fields
    assert api.put(f"v1/dataset/demo-user/{name}", json=body, headers=bearer(token)).status_code == 201
    Storage(hub, token, f"urn:polaris:dataset:demo-user:{name}", "write").put(
        f"dataset/demo-user/{name}/table.parquet", table
    )
    public = api.get(f"v1/dataset/demo-user/{name}").json()
    assert public["artifactVersion"] == 1 and http_file(public["root"]) == table
    m_name = unique("old-model")
    model = {"access": "public", "name": m_name, "owner": "demo-user", "polarisVersion": "0.11.10", "readme": ""}
    assert api.post("v2/model", json=model, headers=bearer(token)).status_code == 201
    assert api.get(f"v2/model/demo-user/{m_name}").json()["name"] == m_name
