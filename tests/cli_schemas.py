"""JSON Schemas of every ``polaris ... --json`` output, and a helper that parses and checks one."""

from __future__ import annotations

import json
from typing import Any

import jsonschema

_ID = {"type": "string", "pattern": "^[^/]+/[^/]+$"}
_MD5 = {"type": "string", "pattern": "^[0-9a-f]{32}$"}
_URL = {"type": "string", "pattern": "^https?://"}
_STR_LIST = {"type": "array", "items": {"type": "string"}}
_SCORE_ROW = {
    "type": "object",
    "required": ["test_set", "target_label", "metric", "score"],
    "additionalProperties": False,
    "properties": {
        "test_set": {"type": "string"},
        "target_label": {"type": "string"},
        "metric": {"type": "string"},
        "score": {"type": ["number", "null"]},
    },
}
_CACHE_ROW = {
    "type": "object",
    "required": ["kind", "artifact", "checksum", "size_bytes", "last_used", "verified", "path"],
    "properties": {
        "kind": {"type": "string"},
        "artifact": _ID,
        "checksum": {"type": "string", "minLength": 1},
        "size_bytes": {"type": "integer", "minimum": 0},
        "last_used": {"type": "string", "format": "date-time"},
        "verified": {"type": "boolean"},
        "path": {"type": "string"},
        "ok": {"type": "boolean"},
        "problems": _STR_LIST,
    },
}

SCHEMAS: dict[str, dict[str, Any]] = {
    "listing": {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["artifact", "owner", "name", "kind", "version"],
            "additionalProperties": False,
            "properties": {
                "artifact": _ID,
                "owner": {"type": "string", "minLength": 1},
                "name": {"type": "string", "minLength": 1},
                "kind": {"enum": ["dataset", "benchmark", "competition", "model"]},
                "version": {"enum": [1, 2]},
                "access": {"enum": ["public", "private", None]},
            },
        },
    },
    "whoami": {
        "type": "object",
        "required": ["identity", "hub_url"],
        "properties": {"identity": {"type": "string"}, "hub_url": _URL},
    },
    "dataset": {
        "type": "object",
        "required": ["artifact", "kind", "version", "access", "rows", "columns", "license", "cached at"],
        "properties": {
            "artifact": _ID,
            "kind": {"const": "dataset"},
            "version": {"enum": [1, 2]},
            "access": {"enum": ["public", "private"]},
            "rows": {"type": ["integer", "null"]},
            "columns": _STR_LIST,
            "md5Sum": _MD5,
            "zarrManifestMd5Sum": _MD5,
            "cached at": {"type": "string"},
            "files": _STR_LIST,
        },
    },
    "upload": {
        "type": "object",
        "required": ["artifact", "kind", "version", "access", "url"],
        "properties": {
            "artifact": _ID,
            "kind": {"enum": ["dataset", "benchmark", "model"]},
            "version": {"enum": [1, 2]},
            "access": {"enum": ["public", "private"]},
            "url": _URL,
            "dataset": _ID,
            "artifact_version": {"type": ["integer", "null"]},
        },
    },
    "benchmark": {
        "type": "object",
        "required": ["artifact", "kind", "dataset", "inputs", "targets", "metrics", "main metric", "md5Sum"],
        "properties": {
            "artifact": _ID,
            "kind": {"const": "benchmark"},
            "dataset": _ID,
            "inputs": _STR_LIST,
            "targets": _STR_LIST,
            "version": {"enum": [1, 2]},
            "train size": {"type": "integer"},
            "metrics": _STR_LIST,
            "md5Sum": {"anyOf": [_MD5, {"type": "null"}]},
        },
    },
    "competition": {
        "type": "object",
        "required": ["artifact", "kind", "dataset", "inputs", "targets", "test sets", "metrics"],
        "properties": {"artifact": _ID, "kind": {"const": "competition"}, "targets": _STR_LIST},
    },
    "results_upload": {
        "type": "object",
        "required": ["benchmark", "name", "owner", "access", "url", "results"],
        "properties": {
            "benchmark": _ID,
            "name": {"type": "string"},
            "owner": {"type": "string"},
            "url": _URL,
            "results": {"type": "array", "minItems": 1, "items": _SCORE_ROW},
        },
    },
    "evaluation": {
        "type": "object",
        "required": ["competition", "results"],
        "properties": {"competition": _ID, "results": {"type": "array", "minItems": 1, "items": _SCORE_ROW}},
    },
    "cache": {"type": "array", "items": _CACHE_ROW},
    "model": {
        "type": "object",
        "required": ["artifact", "kind", "version", "artifact version", "access", "description", "readme"],
        "properties": {
            "artifact": _ID,
            "kind": {"const": "model"},
            "version": {"const": 1},
            "artifact version": {"type": ["integer", "null"]},
            "access": {"enum": ["public", "private"]},
            "tags": _STR_LIST,
            "code url": {"type": ["string", "null"]},
            "report url": {"type": ["string", "null"]},
        },
    },
}


def parse(kind: str, stdout: str) -> Any:
    """Parse ``stdout`` as one JSON document and check it against the schema ``kind``."""
    data = json.loads(stdout)
    jsonschema.validate(data, SCHEMAS[kind], format_checker=jsonschema.FormatChecker())
    return data
