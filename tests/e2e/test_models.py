"""Models (metadata only): upload, get, list, versions."""

from __future__ import annotations

import pytest
from artifact_helpers import DEMO_MODEL, unique  # tests/ is on sys.path (conftest)

from polaris.artifacts import Model
from polaris.errors import ArtifactNotFoundError
from polaris.hub.client import PolarisHubClient

pytestmark = pytest.mark.timeout(300)


def test_model_upload_get_list_and_version(client: PolarisHubClient) -> None:
    name = unique("model")
    model = Model(name=name, owner="demo-user", description="v1", tags=["demo"], report_url="https://x.org/r")
    client.upload_model(model, access="public")
    back = client.get_model(f"demo-user/{name}")
    assert back.description == "v1" and back.report_url == "https://x.org/r" and back.artifact_version == 1
    assert f"demo-user/{name}" in list(client.iter_models(page_size=2))
    summaries = {s.artifact_id: s for s in client.iter_artifacts("model")}
    assert summaries[f"demo-user/{name}"].kind == "model"
    assert DEMO_MODEL in summaries
    newer = Model(name=name, owner="demo-user", description="v2", artifact_changelog="better")
    answer = client.upload_model(newer, parent_artifact_id=f"demo-user/{name}")
    assert answer.get("artifactVersion") == 2
    with pytest.raises(ArtifactNotFoundError):
        client.get_model("demo-user", unique("no-such-model"))
