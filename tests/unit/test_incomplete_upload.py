"""The funnel maps the Hub's 409 "upload incomplete" answer to IncompleteUploadError (hint: the completing call)."""

from __future__ import annotations

import json

from polaris.errors import ArtifactConflictError, IncompleteUploadError
from polaris.hub.wire import error_for_status

HEADERS = {"content-type": "application/json"}


def test_409_incomplete_maps_to_incomplete_upload_error() -> None:
    body = {
        "message": "Upload incomplete: 2 object(s) missing (table.parquet, data.zarr/x/0)",
        "detail": {"state": "incomplete", "missing": ["table.parquet", "data.zarr/x/0"], "mismatched": ["m"]},
    }
    err = error_for_status(409, json.dumps(body).encode(), HEADERS, method="GET", url="http://hub/api/v1/dataset/o/n")
    assert isinstance(err, IncompleteUploadError) and isinstance(err, ArtifactConflictError)
    assert err.status_code == 409
    assert err.missing == ["table.parquet", "data.zarr/x/0"] and err.mismatched == ["m"]
    assert "Upload incomplete" in str(err) and "2 object(s) missing" in str(err)
    assert 'upload_dataset(dataset, if_exists="skip")' in err.hint and "--resume" in err.hint


def test_other_409_stays_a_plain_conflict() -> None:
    err = error_for_status(409, json.dumps({"message": "exists"}).encode(), HEADERS)
    assert type(err) is ArtifactConflictError
    odd = error_for_status(409, json.dumps({"detail": {"state": "weird"}}).encode(), HEADERS)
    assert type(odd) is ArtifactConflictError
