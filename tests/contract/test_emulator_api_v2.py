"""Contract tests of the operations polaris-lib 0.11-0.13 added: every request and answer is checked against
openapi/hub.yaml, plus the rules behind them (versions, public URLs, complete uploads, ``--protocol``).

Uses the session ``local_hub`` (seeded demo); artifacts created here get unique names."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest
from hubproto import (
    ROARING_TYPE,
    Storage,
    bearer,
    conform,
    direct_s3,
    load_spec,
    parquet_table,
    password_token,
    roaring,
    storage_exchange,
    unique,
    upload_v2_dataset,
    v1_dataset_body,
    v2_benchmark_body,
    zarr_archive,
)
from openapi_core import OpenAPI

from polaris.testing import LocalHub

DEMO = "polaris-demo"


@pytest.fixture(scope="module")
def hub(_polaris_session_hub: LocalHub) -> LocalHub:
    return _polaris_session_hub


@pytest.fixture(scope="module")
def spec(hub: LocalHub) -> OpenAPI:
    return load_spec(hub)


@pytest.fixture(scope="module")
def api(hub: LocalHub) -> Any:
    with httpx.Client(base_url=hub.api_url + "/", timeout=30.0) as client:
        yield client


@pytest.fixture(scope="module")
def token(hub: LocalHub) -> str:
    return password_token(hub, "demo-user")


@pytest.fixture(scope="module")
def other(hub: LocalHub) -> str:
    return password_token(hub, "other-user")


@pytest.fixture(scope="module")
def v2_dataset(hub: LocalHub, token: str) -> str:
    """A public 40-row V2 dataset of demo-user (complete)."""
    slug, _ = upload_v2_dataset(hub, token, "demo-user", unique("v2data"))
    return f"demo-user/{slug}"


def put_v2_benchmark(
    hub: LocalHub, api: httpx.Client, spec: OpenAPI, token: str, dataset_id: str, *, access: str = "public"
) -> tuple[str, dict[str, bytes], dict[str, Any]]:
    train, test = list(range(30)), list(range(30, 40))
    (train_bytes, train_set), (test_bytes, test_set) = roaring(train), roaring(test)
    name = unique("v2bench")
    body = v2_benchmark_body(name, "demo-user", dataset_id, train_set, test_set, access=access)
    answer = conform(spec, api.put(f"v2/benchmark/demo-user/{name}", json=body, headers=bearer(token)))
    assert answer.status_code == 201, answer.text
    return str(answer.json()["slug"]), {"training": train_bytes, "test": test_bytes}, answer.json()


def upload_index_sets(hub: LocalHub, token: str, slug: str, sets: dict[str, bytes]) -> Storage:
    store = Storage(hub, token, f"urn:polaris:benchmark:demo-user:{slug}", "write", region="auto")
    for name, data in sets.items():
        store.put(Storage.key(store.paths[name]), data, ROARING_TYPE)
    return store


# ------------------------------------------------------------------------------------------------ lists
@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("v2/dataset", f"{DEMO}/freesolv-zarr"),
        ("v2/benchmark", f"{DEMO}/freesolv-zarr-expt"),
        ("v2/model", f"{DEMO}/freesolv-linear-baseline"),
    ],
)
def test_v2_lists_have_an_integer_total(api: httpx.Client, spec: OpenAPI, path: str, expected: str) -> None:
    r = conform(spec, api.get(path, params={"limit": 100, "offset": 0}))
    assert r.status_code == 200
    body = r.json()
    assert isinstance(body["metadata"]["total"], int) and body["metadata"]["total"] >= 1
    assert (body["metadata"]["limit"], body["metadata"]["offset"]) == (100, 0)
    ids = [item["artifactId"] for item in body["data"]]
    assert expected in ids
    item = body["data"][ids.index(expected)]
    assert item["owner"]["slug"] == DEMO and item["owner"]["type"] == "organization"
    assert item["name"] == expected.split("/")[1]
    paged = api.get(path, params={"limit": 1, "offset": body["metadata"]["total"]}).json()
    assert paged["data"] == [] and paged["metadata"]["total"] == body["metadata"]["total"]


def test_v2_dataset_list_has_only_v2_datasets(api: httpx.Client) -> None:
    ids = [d["artifactId"] for d in api.get("v2/dataset", params={"limit": 1000}).json()["data"]]
    assert f"{DEMO}/freesolv" not in ids  # a V1 dataset
    assert f"{DEMO}/freesolv" in [d["artifactId"] for d in api.get("v1/dataset").json()["data"]]


# ------------------------------------------------------------------------------------------------ V2 benchmarks
def test_seeded_v2_benchmark_answer(api: httpx.Client, spec: OpenAPI, hub: LocalHub) -> None:
    r = conform(spec, api.get(f"v2/benchmark/{DEMO}/freesolv-zarr-expt"))
    assert r.status_code == 200
    b = r.json()
    assert b["dataset"]["artifactId"] == f"{DEMO}/freesolv-zarr" and b["datasetArtifactId"] == f"{DEMO}/freesolv-zarr"
    assert set(b["split"]) == {"training", "test"} == set(b["splitContent"])
    assert b["version"] == 2 and b["artifactVersion"] == 1 and b["parentArtifactId"] is None
    assert b["testSetLabels"] == ["test"] and b["nTestSets"] == 1
    assert b["nTrainDatapoints"] + b["testSetSizes"]["test"] == 100
    for name in ("training", "test"):
        url = b["split"][name]
        assert url == f"{hub.url}storage/public/benchmark/{DEMO}/freesolv-zarr-expt/{name}.roaring"
        data = httpx.get(url, timeout=30).content
        assert hashlib.md5(data).hexdigest() == b["splitContent"][name]["md5Checksum"]
    assert conform(spec, api.get(f"v1/benchmark/{DEMO}/freesolv-zarr-expt")).status_code == 404


def test_put_v2_benchmark_then_upload_index_sets(
    hub: LocalHub, api: httpx.Client, spec: OpenAPI, token: str, v2_dataset: str
) -> None:
    slug, sets, stored = put_v2_benchmark(hub, api, spec, token, v2_dataset)
    assert stored["split"]["training"].startswith("http")  # public: URLs at once
    assert stored["splitContent"]["training"]["datapoints"] == 30 and stored["nTrainDatapoints"] == 30
    assert stored["targetTypes"] == {} and "md5Sum" not in stored
    # before the index sets arrive the benchmark is not published
    incomplete = conform(spec, api.get(f"v2/benchmark/demo-user/{slug}"))
    assert incomplete.status_code == 409
    assert incomplete.json()["detail"] == {
        "state": "incomplete",
        "missing": ["training.roaring", "test.roaring"],
        "mismatched": [],
    }
    assert incomplete.json()["message"].startswith("Upload incomplete: ")
    listed = [b["artifactId"] for b in api.get("v2/benchmark", params={"limit": 1000}).json()["data"]]
    assert f"demo-user/{slug}" not in listed
    store = upload_index_sets(hub, token, slug, sets)
    assert store.paths == {
        "training": f"polarisfs://polaris-hub/benchmark/demo-user/{slug}/training.roaring",
        "test": f"polarisfs://polaris-hub/benchmark/demo-user/{slug}/test.roaring",
    }
    r = conform(spec, api.get(f"v2/benchmark/demo-user/{slug}"))
    assert r.status_code == 200
    listed = [b["artifactId"] for b in api.get("v2/benchmark", params={"limit": 1000}).json()["data"]]
    assert f"demo-user/{slug}" in listed
    head = direct_s3(hub).head_object(Bucket="polaris-hub", Key=f"benchmark/demo-user/{slug}/test.roaring")
    assert head["ContentType"] == ROARING_TYPE


def test_v2_benchmark_index_sets_must_match(
    hub: LocalHub, api: httpx.Client, spec: OpenAPI, token: str, v2_dataset: str
) -> None:
    slug, _, _ = put_v2_benchmark(hub, api, spec, token, v2_dataset)
    other_bytes, _ = roaring([1, 2, 3])
    upload_index_sets(hub, token, slug, {"training": roaring(list(range(30)))[0], "test": other_bytes})
    r = conform(spec, api.get(f"v2/benchmark/demo-user/{slug}"))
    assert r.status_code == 409 and r.json()["detail"]["mismatched"] == ["test.roaring"]


def test_v2_benchmark_refusals(api: httpx.Client, spec: OpenAPI, token: str, v2_dataset: str) -> None:
    _, train = roaring([0, 1])
    _, empty = roaring([])
    on_v1 = v2_benchmark_body(unique("onv1"), "demo-user", f"{DEMO}/freesolv", train, train)
    r = conform(spec, api.put(f"v2/benchmark/demo-user/{on_v1['name']}", json=on_v1, headers=bearer(token)))
    assert r.status_code == 404 and "V1 dataset" in r.json()["message"]
    no_test = v2_benchmark_body(unique("notest"), "demo-user", v2_dataset, train, empty)
    r = conform(spec, api.put(f"v2/benchmark/demo-user/{no_test['name']}", json=no_test, headers=bearer(token)))
    assert r.status_code == 422 and "test set must not be empty" in r.json()["message"]
    bad = v2_benchmark_body(unique("badcol"), "demo-user", v2_dataset, train, train)
    bad["targetCols"] = ["nope"]
    r = conform(spec, api.put(f"v2/benchmark/demo-user/{bad['name']}", json=bad, headers=bearer(token)))
    assert r.status_code == 422 and "nope" in r.json()["message"]
    anon = conform(spec, api.put(f"v2/benchmark/demo-user/{bad['name']}", json=bad))
    assert anon.status_code == 401


def test_private_v2_benchmark_split_values_are_index_sets(
    hub: LocalHub, api: httpx.Client, spec: OpenAPI, token: str, other: str, v2_dataset: str
) -> None:
    slug, sets, _ = put_v2_benchmark(hub, api, spec, token, v2_dataset, access="private")
    upload_index_sets(hub, token, slug, sets)
    mine = conform(spec, api.get(f"v2/benchmark/demo-user/{slug}", headers=bearer(token))).json()
    assert mine["split"] == mine["splitContent"]
    assert mine["split"]["test"] == {"datapoints": 10, "md5Checksum": hashlib.md5(sets["test"]).hexdigest()}
    assert api.get(f"v2/benchmark/demo-user/{slug}").status_code == 404
    assert api.get(f"v2/benchmark/demo-user/{slug}", headers=bearer(other)).status_code == 404
    url = f"{hub.url}storage/public/benchmark/demo-user/{slug}/test.roaring"
    assert httpx.get(url, timeout=30).status_code == 404
    read = Storage(hub, token, f"urn:polaris:benchmark:demo-user:{slug}", "read")
    assert read.get(Storage.key(read.paths["test"])) == sets["test"]


# ------------------------------------------------------------------------------------------------ results
def test_result_on_v2_benchmark_with_0_12_keys(api: httpx.Client, spec: OpenAPI, token: str) -> None:
    body = {
        "name": "zarr-results",
        "description": "",
        "tags": [],
        "userAttributes": {},
        "owner": "demo-user",
        "polarisVersion": "0.12.1",
        "code_url": "https://example.org/code",
        "report_url": "https://example.org/report",
        "modelArtifactId": f"{DEMO}/freesolv-linear-baseline",
        "contributors": [],
        "results": [{"testSet": "test", "targetLabel": "expt", "scores": {"mean_absolute_error": 0.7, "r2": None}}],
        "benchmarkArtifactId": f"{DEMO}/freesolv-zarr-expt",
        "version": 1,
    }
    r = conform(spec, api.post("v2/result", json=body, headers=bearer(token)))
    assert r.status_code == 201, r.text
    out = r.json()
    assert (out["slug"], out["artifactId"]) == ("zarr-results", "demo-user/zarr-results")
    assert out["urn"] == "urn:polaris:result:demo-user:zarr-results"
    assert out["githubUrl"] == "https://example.org/code" and out["paperUrl"] == "https://example.org/report"
    assert out["modelArtifactId"] == f"{DEMO}/freesolv-linear-baseline" and out["access"] == "private"
    assert out["benchmarkArtifactId"] == f"{DEMO}/freesolv-zarr-expt"
    assert r.headers["Content-Location"].startswith(f"/benchmarks/{DEMO}/freesolv-zarr-expt/results/")
    body["results"][0]["scores"] = {"accuracy": 1.0}
    assert conform(spec, api.post("v2/result", json=body, headers=bearer(token))).status_code == 422


# ------------------------------------------------------------------------------------------------ competitions
def test_competition_v1_answer_and_storage(hub: LocalHub, api: httpx.Client, spec: OpenAPI, token: str) -> None:
    r = conform(spec, api.get(f"v1/competition/{DEMO}/freesolv-zarr-challenge"))
    assert r.status_code == 200
    c = r.json()
    assert c["startTime"] == "2025-01-01T00:00:00Z" and c["endTime"] == "2099-12-31T23:59:59Z"
    assert "dataset" not in c and c["datasetArtifactId"] == f"{DEMO}/freesolv-zarr-challenge"
    assert c["split"][1].keys() == {"test"} and c["targetCols"] == ["expt"] and c["inputCols"] == ["calc"]
    assert c["root"] == f"{hub.url}storage/public/competition/{DEMO}/freesolv-zarr-challenge/data.zarr"
    read = conform_token(
        spec, storage_exchange(hub, token, f"urn:polaris:competition:{DEMO}:freesolv-zarr-challenge", "read")
    )
    base = f"polarisfs://polaris-hub/competition/{DEMO}/freesolv-zarr-challenge"
    assert read["extra_data"]["paths"] == {"root": f"{base}/data.zarr", "manifest": f"{base}/zarr_manifest.parquet"}
    assert conform(spec, api.get(f"v2/competition/{DEMO}/freesolv-zarr-challenge")).status_code == 404


def conform_token(spec: OpenAPI, response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    conform(spec, response)
    return dict(response.json())


def test_competition_prediction_is_scored(api: httpx.Client, spec: OpenAPI, token: str) -> None:
    comp = api.get(f"v1/competition/{DEMO}/freesolv-zarr-challenge").json()
    n_test = comp["testSetSizes"]["test"]
    body = {
        "competitionArtifactId": f"{DEMO}/freesolv-zarr-challenge",
        "name": "my-predictions",
        "owner": "demo-user",
        "description": "",
        "tags": [],
        "userAttributes": {},
        "polarisVersion": "0.12.1",
        "reportUrl": "https://example.org/report",
        "code_url": "https://example.org/code",
        "contributors": [],
        "predictions": {"test": {"expt": [0.0] * n_test}},
        "targetLabels": ["expt"],
        "testSetLabels": ["test"],
        "testSetSizes": {"test": n_test},
        "slug": "my-predictions",
        "artifactId": "demo-user/my-predictions",
        "urn": "urn:polaris:competition-prediction:demo-user:my-predictions",
        "version": 1,
    }
    r = conform(spec, api.post("v1/competition-prediction", json=body, headers=bearer(token)))
    assert r.status_code == 201, r.text
    scored = r.json()
    assert scored["competitionArtifactId"] == f"{DEMO}/freesolv-zarr-challenge" and scored["mainMetric"]
    by_metric = {m: s for rec in scored["results"] for m, s in rec["scores"].items()}
    assert set(by_metric) == {"mean_absolute_error", "r2", "spearmanr"}
    assert by_metric["mean_absolute_error"] > 0
    assert conform(spec, api.post("v1/competition-prediction", json=body)).status_code == 401
    body["predictions"] = {"test": {"expt": [0.0]}}
    assert conform(spec, api.post("v1/competition-prediction", json=body, headers=bearer(token))).status_code == 422
    body["competitionArtifactId"] = f"{DEMO}/no-such-competition"
    assert conform(spec, api.post("v1/competition-prediction", json=body, headers=bearer(token))).status_code == 404


# ------------------------------------------------------------------------------------------------ models
def test_models_post_put_get_list(api: httpx.Client, spec: OpenAPI, token: str, other: str) -> None:
    name = unique("model")
    body = {"name": name, "owner": "demo-user", "description": "m", "tags": [], "userAttributes": {},
            "polarisVersion": "0.11.10", "readme": "# m", "codeUrl": "https://example.org/c", "access": "private",
            "slug": name, "artifactId": f"demo-user/{name}", "urn": f"urn:polaris:model:demo-user:{name}",
            "version": 1}  # fmt: skip
    r = conform(spec, api.post("v2/model", json=body, headers=bearer(token)))
    assert r.status_code == 201 and r.headers["Content-Location"] == f"/models/demo-user/{name}"
    assert r.json()["access"] == "private" and r.json()["artifactVersion"] == 1
    assert conform(spec, api.get(f"v2/model/demo-user/{name}")).status_code == 404
    got = conform(spec, api.get(f"v2/model/demo-user/{name}", headers=bearer(token))).json()
    assert got["codeUrl"] == "https://example.org/c" and got["readme"] == "# m"
    # 0.13: a PUT without access keeps a private model private (nothing is published by omission) ...
    body13 = {k: v for k, v in body.items() if k != "access"} | {"artifactVersion": 1, "parentArtifactId": None}
    r = conform(spec, api.put(f"v2/model/demo-user/{name}", json=body13, headers=bearer(token)))
    assert r.status_code == 200 and r.json()["access"] == "private"
    assert conform(spec, api.get(f"v2/model/demo-user/{name}")).status_code == 404
    # ... and so does a new version of it; a new model without access is public (0.13 reads models anonymously)
    versioned = body13 | {"parentArtifactId": f"demo-user/{name}", "artifactChangelog": "v2"}
    r = conform(spec, api.put(f"v2/model/demo-user/{name}", json=versioned, headers=bearer(token)))
    assert r.status_code == 201 and (r.json()["slug"], r.json()["access"]) == (f"{name}-v2", "private")
    fresh = unique("model13")
    body_new = body13 | {"name": fresh, "slug": fresh, "artifactId": f"demo-user/{fresh}"}
    r = conform(spec, api.put(f"v2/model/demo-user/{fresh}", json=body_new, headers=bearer(token)))
    assert r.status_code == 201 and r.json()["access"] == "public"
    assert conform(spec, api.get(f"v2/model/demo-user/{fresh}")).json()["access"] == "public"
    listed = conform(spec, api.get("v2/model", params={"limit": 1000})).json()
    assert f"demo-user/{fresh}" in [m["artifactId"] for m in listed["data"]]
    assert f"demo-user/{name}" not in [m["artifactId"] for m in listed["data"]]
    assert conform(spec, api.put(f"v2/model/demo-user/{name}", json=body13, headers=bearer(other))).status_code == 403
    no_owner = {k: v for k, v in body.items() if k != "owner"}
    assert conform(spec, api.post("v2/model", json=no_owner, headers=bearer(token))).status_code == 422


# ------------------------------------------------------------------------------------------------ 0.12 versions
def test_new_version_gets_its_own_slug_and_parent_stays(
    hub: LocalHub, api: httpx.Client, spec: OpenAPI, token: str
) -> None:
    table, df = parquet_table(5)
    name = unique("Versioned_Data")
    slug = name.lower().replace("_", "-")
    body = v1_dataset_body(name, "demo-user", table, df) | {"artifactVersion": 1, "parentArtifactId": None}
    first = conform(spec, api.put(f"v1/dataset/demo-user/{slug}", json=body, headers=bearer(token)))
    assert first.status_code == 201 and first.json()["slug"] == slug and first.json()["artifactVersion"] == 1
    Storage(hub, token, f"urn:polaris:dataset:demo-user:{slug}", "write").put(
        f"dataset/demo-user/{slug}/table.parquet", table
    )
    table2, df2 = parquet_table(7)
    body2 = v1_dataset_body(name, "demo-user", table2, df2) | {
        "artifactVersion": 1,
        "artifactChangelog": "two more rows",
        "parentArtifactId": f"demo-user/{slug}",
    }
    second = conform(spec, api.put(f"v1/dataset/demo-user/{slug}", json=body2, headers=bearer(token)))
    assert second.status_code == 201, second.text
    v2 = second.json()
    assert v2["slug"] == f"{slug}-v2" and v2["artifactVersion"] == 2 and v2["parentArtifactId"] == f"demo-user/{slug}"
    assert v2["artifactChangelog"] == "two more rows" and v2["name"] == name
    assert second.headers["Content-Location"] == f"/datasets/demo-user/{slug}-v2"
    Storage(hub, token, f"urn:polaris:dataset:demo-user:{slug}-v2", "write").put(
        f"dataset/demo-user/{slug}-v2/table.parquet", table2
    )
    old = conform(spec, api.get(f"v1/dataset/demo-user/{slug}")).json()
    new = conform(spec, api.get(f"v1/dataset/demo-user/{slug}-v2")).json()
    assert (old["nRows"], old["artifactVersion"], old["md5Sum"]) == (5, 1, body["md5Sum"])
    assert (new["nRows"], new["artifactVersion"], new["md5Sum"]) == (7, 2, body2["md5Sum"])
    body3 = body2 | {"parentArtifactId": f"demo-user/{slug}-v2", "artifactChangelog": "third"}
    third = conform(spec, api.put(f"v1/dataset/demo-user/{slug}", json=body3, headers=bearer(token)))
    assert third.json()["slug"] == f"{slug}-v3" and third.json()["artifactVersion"] == 3
    missing = body2 | {"parentArtifactId": "demo-user/no-such-parent"}
    assert (
        conform(spec, api.put(f"v1/dataset/demo-user/{slug}", json=missing, headers=bearer(token))).status_code == 404
    )


# ------------------------------------------------------------------------------------------------ 0.13 public URLs
def test_public_dataset_urls_serve_head_range_and_404(hub: LocalHub, api: httpx.Client, spec: OpenAPI) -> None:
    d = conform(spec, api.get(f"v1/dataset/{DEMO}/freesolv")).json()
    assert d["root"] == f"{hub.url}storage/public/dataset/{DEMO}/freesolv/table.parquet" and "extension" not in d
    head = httpx.head(d["root"], timeout=30)
    size = d["tableContent"]["size"]
    assert head.status_code == 200 and int(head.headers["content-length"]) == size
    ranged = httpx.get(d["root"], headers={"Range": f"bytes=0-{size - 1}"}, timeout=30)
    assert ranged.status_code == 206 and ranged.headers["content-range"] == f"bytes 0-{size - 1}/{size}"
    assert hashlib.md5(ranged.content).hexdigest() == d["tableContent"]["md5Sum"]
    part = httpx.get(d["root"], headers={"Range": "bytes=4-9"}, timeout=30)
    assert part.status_code == 206 and part.content == ranged.content[4:10]
    whole = httpx.get(d["root"], timeout=30)
    assert whole.status_code == 200 and whole.content == ranged.content
    tail = httpx.get(d["root"], headers={"Range": "bytes=-4"}, timeout=30)
    assert tail.status_code == 206 and tail.content == whole.content[-4:]
    beyond = httpx.get(d["root"], headers={"Range": f"bytes={size}-{size + 10}"}, timeout=30)
    assert beyond.status_code == 416 and beyond.headers["content-range"] == f"bytes */{size}"
    ignored = httpx.get(d["root"], headers={"Range": "bytes=0-1,4-5"}, timeout=30)  # not one range: all of it
    assert ignored.status_code == 200 and ignored.content == whole.content
    v2 = conform(spec, api.get(f"v2/dataset/{DEMO}/freesolv-zarr")).json()
    assert v2["root"].endswith("/dataset/polaris-demo/freesolv-zarr/data.zarr")
    assert httpx.get(v2["root"] + "/.zmetadata", timeout=30).json()["zarr_consolidated_format"] == 1
    assert httpx.get(v2["root"] + "/expt/99", timeout=30).status_code == 404  # a missing chunk
    assert httpx.head(v2["root"] + "/expt/99", timeout=30).status_code == 404
    outside = f"{hub.url}storage/public/dataset/{DEMO}/freesolv/%2e%2e/freesolv-zarr/data.zarr/.zmetadata"
    assert httpx.get(outside, timeout=30).status_code == 404


def test_private_dataset_is_never_readable_anonymously(hub: LocalHub, api: httpx.Client, token: str) -> None:
    table, df = parquet_table(3)
    name = unique("secret")
    body = v1_dataset_body(name, "demo-user", table, df, access="private")
    assert api.put(f"v1/dataset/demo-user/{name}", json=body, headers=bearer(token)).status_code == 201
    Storage(hub, token, f"urn:polaris:dataset:demo-user:{name}", "write").put(
        f"dataset/demo-user/{name}/table.parquet", table
    )
    mine = api.get(f"v1/dataset/demo-user/{name}", headers=bearer(token))
    assert mine.status_code == 200 and "root" not in mine.json()
    assert api.get(f"v1/dataset/demo-user/{name}").status_code == 404
    url = f"{hub.url}storage/public/dataset/demo-user/{name}/table.parquet"
    missing = f"{hub.url}storage/public/dataset/demo-user/{name}-gone/table.parquet"
    for method in ("GET", "HEAD"):
        refused, absent = httpx.request(method, url, timeout=30), httpx.request(method, missing, timeout=30)
        assert refused.status_code == absent.status_code == 404  # private looks exactly like missing
    assert httpx.get(url, headers={"Range": "bytes=0-3"}, timeout=30).status_code == 404
    listed = [d["artifactId"] for d in api.get("v1/dataset", params={"limit": 1000}).json()["data"]]
    assert f"demo-user/{name}" not in listed


# -------------------------------------------------------------------------------------------- complete uploads (#11)
def test_half_published_v1_dataset_answers_409_until_complete(
    hub: LocalHub, api: httpx.Client, spec: OpenAPI, token: str
) -> None:
    table, df = parquet_table(4)
    name = unique("half")
    body = v1_dataset_body(name, "demo-user", table, df)
    assert conform(spec, api.put(f"v1/dataset/demo-user/{name}", json=body, headers=bearer(token))).status_code == 201
    r = conform(spec, api.get(f"v1/dataset/demo-user/{name}"))
    assert r.status_code == 409
    assert r.json()["detail"] == {"state": "incomplete", "missing": ["table.parquet"], "mismatched": []}
    assert f"demo-user/{name}" not in [
        d["artifactId"] for d in api.get("v1/dataset", params={"limit": 1000}).json()["data"]
    ]
    store = Storage(hub, token, f"urn:polaris:dataset:demo-user:{name}", "write")  # the owner can still finish
    store.put(f"dataset/demo-user/{name}/table.parquet", table[:-1] + b"X")
    r = conform(spec, api.get(f"v1/dataset/demo-user/{name}"))
    assert r.status_code == 409 and r.json()["detail"]["mismatched"] == ["table.parquet"]
    store.put(f"dataset/demo-user/{name}/table.parquet", table)
    assert conform(spec, api.get(f"v1/dataset/demo-user/{name}")).status_code == 200
    assert f"demo-user/{name}" in [
        d["artifactId"] for d in api.get("v1/dataset", params={"limit": 1000}).json()["data"]
    ]


def test_half_published_v2_dataset_names_missing_zarr_files(
    hub: LocalHub, api: httpx.Client, spec: OpenAPI, token: str
) -> None:
    slug, files = upload_v2_dataset(hub, token, "demo-user", unique("v2half"))
    assert conform(spec, api.get(f"v2/dataset/demo-user/{slug}")).status_code == 200
    s3 = direct_s3(hub)
    chunk = next(rel for rel in files if rel.startswith("y/") and not rel.startswith("y/."))
    s3.delete_object(Bucket="polaris-hub", Key=f"dataset/demo-user/{slug}/data.zarr/{chunk}")
    # a re-PUT (the start of a new upload) forgets that it was published; the missing chunk is found
    body = api.get(f"v2/dataset/demo-user/{slug}").json()
    reput = {k: v for k, v in body.items() if k not in ("createdAt", "updatedAt", "root", "zarrManifestMd5Sum")}
    reput["owner"] = "demo-user"
    assert api.put(f"v2/dataset/demo-user/{slug}", json=reput, headers=bearer(token)).status_code == 200
    r = conform(spec, api.get(f"v2/dataset/demo-user/{slug}"))
    assert r.status_code == 409 and r.json()["detail"]["missing"] == [f"data.zarr/{chunk}"]
    s3.put_object(Bucket="polaris-hub", Key=f"dataset/demo-user/{slug}/data.zarr/{chunk}", Body=b"other bytes")
    r = conform(spec, api.get(f"v2/dataset/demo-user/{slug}"))
    assert r.status_code == 409 and r.json()["detail"]["mismatched"] == [f"data.zarr/{chunk}"]
    assert httpx.get(f"{hub.url}storage/public/dataset/demo-user/{slug}/data.zarr/.zmetadata").status_code == 404
    s3.put_object(Bucket="polaris-hub", Key=f"dataset/demo-user/{slug}/data.zarr/{chunk}", Body=files[chunk])
    assert conform(spec, api.get(f"v2/dataset/demo-user/{slug}")).status_code == 200


# ------------------------------------------------------------------------------------------------ storage tokens
def test_storage_token_for_models_and_v1_benchmarks_is_refused(hub: LocalHub, token: str) -> None:
    for urn in (
        f"urn:polaris:model:{DEMO}:freesolv-linear-baseline",
        f"urn:polaris:benchmark:{DEMO}:freesolv-hydration-free-energy",
    ):
        r = storage_exchange(hub, token, urn, "read")
        assert r.status_code == 400 and r.json()["error"] == "invalid_target", r.text


def test_benchmark_write_token_only_for_owners(hub: LocalHub, other: str) -> None:
    r = storage_exchange(hub, other, f"urn:polaris:benchmark:{DEMO}:freesolv-zarr-expt", "write")
    assert r.status_code == 403 and r.json()["error"] == "access_denied"
    read = storage_exchange(hub, other, f"urn:polaris:benchmark:{DEMO}:freesolv-zarr-expt", "read")
    assert read.status_code == 200 and set(read.json()["extra_data"]["paths"]) == {"training", "test"}


# ------------------------------------------------------------------------------------------------ Roaring bytes
KNOWN_VECTORS = [  # facts-0.11-0.13 §5.5, observed with pyroaring 1.0.0
    (list(range(30)), "3b3000000100001d00010000001d00", "012c99279975eb976629afdd58f32b51"),
    (list(range(30, 40)), "3b300000010000090001001e000900", "f381cdda1f00d3c26f533738068a3d22"),
    ([1, 70000, 5000000], None, "b271e3924ebdcc88b601fa30ff19f4c8"),
]


@pytest.mark.parametrize(("indices", "hex_bytes", "md5"), KNOWN_VECTORS)
def test_roaring_known_vectors(indices: list[int], hex_bytes: str | None, md5: str) -> None:
    data, index_set = roaring(indices)
    if hex_bytes is not None:
        assert data.hex() == hex_bytes
    else:
        assert len(data) == 38 and data.hex().startswith("3a30000003000000")
    assert index_set == {"datapoints": len(indices), "md5Checksum": md5}


def test_seeded_index_sets_are_pyroarings_bytes(hub: LocalHub, api: httpx.Client) -> None:
    from pyroaring import BitMap

    b = api.get(f"v2/benchmark/{DEMO}/freesolv-zarr-expt").json()
    sets = {}
    for name in ("training", "test"):
        data = httpx.get(b["split"][name], timeout=30).content
        indices = list(BitMap.deserialize(data))
        assert data == BitMap(indices).serialize()  # bit-equal to pyroaring's serialisation of the same indices
        assert len(indices) == b["splitContent"][name]["datapoints"]
        sets[name] = set(indices)
    assert not sets["training"] & sets["test"] and sets["training"] | sets["test"] == set(range(100))


# ------------------------------------------------------------------------------------------------ --protocol
def test_protocol_0_10_serves_only_the_old_endpoints(local_hub_factory: Any) -> None:
    old = local_hub_factory(seed="demo", protocol="0.10")
    api = f"{old.api_url}/"
    for path in ("v2/dataset", "v2/benchmark", "v2/model", f"v2/benchmark/{DEMO}/freesolv-zarr-expt",
                 f"v1/competition/{DEMO}/freesolv-zarr-challenge"):  # fmt: skip
        r = httpx.get(api + path, timeout=30)
        assert r.status_code == 404 and "0.10 protocol only" in r.json()["message"], path
    assert httpx.post(api + "v1/competition-prediction", json={}, timeout=30).status_code == 404
    d = httpx.get(api + f"v1/dataset/{DEMO}/freesolv", timeout=30)
    assert d.status_code == 200 and "root" not in d.json()
    assert httpx.get(f"{old.url}storage/public/dataset/{DEMO}/freesolv/table.parquet", timeout=30).status_code == 404
    assert httpx.get(api + f"v2/competition/{DEMO}/freesolv-challenge", timeout=30).status_code == 200
    token = password_token(old)
    r = storage_exchange(old, token, f"urn:polaris:benchmark:{DEMO}:freesolv-zarr-expt", "read")
    assert r.status_code == 400 and r.json()["error"] == "invalid_target"


def test_protocol_0_13_drops_the_0_10_competitions(local_hub_factory: Any) -> None:
    new = local_hub_factory(seed="demo", protocol="0.13")
    api = f"{new.api_url}/"
    for path in ("v2/competition", f"v2/competition/{DEMO}/freesolv-challenge",
                 f"v2/competition/dataset/{DEMO}/freesolv-challenge"):  # fmt: skip
        r = httpx.get(api + path, timeout=30)
        assert r.status_code == 404 and "0.13 protocol only" in r.json()["message"], path
    assert httpx.get(api + "v2/dataset", timeout=30).status_code == 200
    assert httpx.get(api + f"v1/dataset/{DEMO}/freesolv", timeout=30).json()["root"].startswith(new.url)
    token = password_token(new)
    r = storage_exchange(new, token, f"urn:polaris:competitionDataset:{DEMO}:freesolv-challenge", "read")
    assert r.status_code == 400 and r.json()["error"] == "invalid_target"


def test_pointer_dataset_needs_its_zarr_files_and_gets_an_extension_url(
    hub: LocalHub, api: httpx.Client, spec: OpenAPI, token: str
) -> None:
    files, _, _ = zarr_archive({"p": [0.5, 1.5, 2.5]})
    table, df = parquet_table(3)
    name = unique("pointers")
    body = v1_dataset_body(name, "demo-user", table, df)
    body["annotations"]["p"] = {"isPointer": True, "modality": "UNKNOWN", "userAttributes": {}, "dtype": "object"}
    body["zarrRootPath"] = "polarisfs://data.zarr"
    body["zarrContent"] = [
        {"path": rel, "md5sum": hashlib.md5(data).hexdigest(), "size": len(data)} for rel, data in files.items()
    ]
    assert conform(spec, api.put(f"v1/dataset/demo-user/{name}", json=body, headers=bearer(token))).status_code == 201
    store = Storage(hub, token, f"urn:polaris:dataset:demo-user:{name}", "write")
    assert set(store.paths) == {"root", "extension"}
    store.put(Storage.key(store.paths["root"]), table)
    r = conform(spec, api.get(f"v1/dataset/demo-user/{name}"))
    assert r.status_code == 409 and sorted(r.json()["detail"]["missing"]) == sorted(f"data.zarr/{k}" for k in files)
    for rel, data in files.items():
        store.put(f"{Storage.key(store.paths['extension'])}/{rel}", data)
    d = conform(spec, api.get(f"v1/dataset/demo-user/{name}")).json()
    assert d["extension"] == f"{hub.url}storage/public/dataset/demo-user/{name}/data.zarr"
    assert httpx.get(d["extension"] + "/.zmetadata", timeout=30).content == files[".zmetadata"]
