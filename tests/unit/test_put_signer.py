"""The writer's SigV4 signer computes exactly what botocore's reference ``S3SigV4Auth`` computes."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from polaris.hub.storage.endpoint import UNSIGNED_PAYLOAD, Signer


@pytest.mark.parametrize(
    "origin, host, key, session_token, extra",
    [
        ("http://127.0.0.1:9000", "127.0.0.1:9000", "dataset/o/n/data.zarr/x/0.1", "jwt/abc.def.ghi", {}),
        ("https://r2.example", "r2.example", "dataset/o/n/a b/ü+%~.bin", None, {"If-None-Match": "*"}),
        ("http://[::1]:8080", "[::1]:8080", "k", "tok", {"Content-Type": "application/x  spaced"}),
    ],
)
def test_signature_equals_botocore(
    origin: str, host: str, key: str, session_token: str | None, extra: dict[str, str]
) -> None:
    path = "/bucket/" + quote(key, safe="/~")
    headers = {"Host": host, "Content-Length": "3", "Content-MD5": "rL0Y20zC+Fzt72VPzMSk2A==", **extra}
    headers.setdefault("Content-Type", "application/octet-stream")
    signed = Signer("AKID", "secret/key+", session_token).sign("PUT", path, headers)
    assert signed["X-Amz-Content-SHA256"] == UNSIGNED_PAYLOAD
    assert ("X-Amz-Security-Token" in signed) == (session_token is not None)

    class Reference(S3SigV4Auth):
        def _should_sha256_sign_payload(self, request: object) -> bool:
            return False

    reference = AWSRequest(
        method="PUT", url=origin + path, headers={k: v for k, v in signed.items() if k != "Authorization"}
    )
    reference.context["timestamp"] = signed["X-Amz-Date"]
    auth = Reference(Credentials("AKID", "secret/key+", session_token), "s3", "us-east-1")
    expected = auth.signature(auth.string_to_sign(reference, auth.canonical_request(reference)), reference)
    match = re.fullmatch(
        r"AWS4-HMAC-SHA256 Credential=AKID/(\d{8})/us-east-1/s3/aws4_request, SignedHeaders=([^,]+), Signature=(\w+)",
        signed["Authorization"],
    )
    assert match is not None, signed["Authorization"]
    assert match.group(1) == signed["X-Amz-Date"][:8]
    assert match.group(2) == auth.signed_headers(auth.headers_to_sign(reference))
    assert "content-md5" in match.group(2).split(";") and "host" in match.group(2).split(";")
    assert match.group(3) == expected


@pytest.mark.parametrize(
    "method, params",
    [
        ("GET", {}),
        ("HEAD", {}),
        ("GET", {"list-type": "2", "prefix": "dataset/o/n/a b+ü/", "max-keys": "1000", "encoding-type": "url"}),
        ("GET", {"list-type": "2", "prefix": "p/", "continuation-token": "1/abc+def=="}),
    ],
)
def test_get_head_and_list_signatures_equal_botocore(method: str, params: dict[str, str]) -> None:
    from polaris.hub.storage.endpoint import canonical_query

    path = "/bucket/" + ("" if params else quote("dataset/o/n/x/0.0", safe="/~"))
    query = canonical_query(params)
    signed = Signer("AKID", "secret/key+", "jwt/x").sign(method, path, {"Host": "127.0.0.1:9000"}, query)

    class Reference(S3SigV4Auth):
        def _should_sha256_sign_payload(self, request: object) -> bool:
            return False

    url = "http://127.0.0.1:9000" + path + (f"?{query}" if query else "")
    reference = AWSRequest(method=method, url=url, headers={k: v for k, v in signed.items() if k != "Authorization"})
    reference.context["timestamp"] = signed["X-Amz-Date"]
    auth = Reference(Credentials("AKID", "secret/key+", "jwt/x"), "s3", "us-east-1")
    expected = auth.signature(auth.string_to_sign(reference, auth.canonical_request(reference)), reference)
    assert signed["Authorization"].endswith(f"Signature={expected}")
