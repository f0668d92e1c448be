"""JSON Schemas of every ``polaris ... --json`` output, and a helper that parses and checks one."""

from __future__ import annotations

import json
import re
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

_FORMAT = {"enum": ["V1", "V2"]}
_VERSION = {"type": ["integer", "null"], "minimum": 1}
_ACCESS = {"enum": ["public", "private"]}
_SNAKE = "^[a-z][a-z0-9_]*$"
_SIZES = {"type": "object", "propertyNames": {"minLength": 1}, "additionalProperties": {"type": "integer"}}
_TASK_FILES = {
    "type": "object",
    "required": ["train", "test", "predictions_csv", "predictions_json"],
    "additionalProperties": {"type": "string"},
}
_TASK = {
    "artifact": _ID,
    "format": _FORMAT,
    "version": _VERSION,
    "dataset": _ID,
    "task": {"enum": ["single_task", "multi_task"]},
    "inputs": _STR_LIST,
    "targets": _STR_LIST,
    "target_types": {"type": "object", "additionalProperties": {"type": "string"}},
    "train_size": {"type": "integer", "minimum": 0},
    "test_sizes": _SIZES,
    "metrics": _STR_LIST,
    "main_metric": {"type": "string"},
    "files": _TASK_FILES,
}
_TASK_REQUIRED = [
    "artifact", "kind", "format", "version", "dataset", "inputs", "targets", "train_size", "test_sizes", "metrics",
    "main_metric",
]  # fmt: skip
_INFO = {
    "artifact": _ID,
    "format": _FORMAT,
    "version": _VERSION,
    "name": {"type": ["string", "null"]},
    "description": {"type": "string"},
    "access": {"enum": ["public", "private", None]},
    "tags": _STR_LIST,
    "created_at": {"type": ["string", "null"]},
    "updated_at": {"type": ["string", "null"]},
}

SCHEMAS: dict[str, dict[str, Any]] = {
    "listing": {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["artifact", "owner", "name", "kind", "format", "version"],
            "additionalProperties": False,
            "properties": {
                "artifact": _ID,
                "owner": {"type": "string", "minLength": 1},
                "name": {"type": "string", "minLength": 1},
                "kind": {"enum": ["dataset", "benchmark", "competition", "model"]},
                "format": _FORMAT,
                "version": _VERSION,
                "access": {"enum": ["public", "private", None]},
            },
        },
    },
    "whoami": {
        "type": "object",
        "required": ["identity", "hub_url", "checked"],
        "additionalProperties": False,
        "properties": {"identity": {"type": "string"}, "hub_url": _URL, "checked": {"type": "boolean"}},
    },
    "dataset": {
        "type": "object",
        "required": ["artifact", "kind", "format", "version", "access", "rows", "columns", "license", "cached_at"],
        "additionalProperties": False,
        "properties": {
            "artifact": _ID,
            "kind": {"const": "dataset"},
            "format": _FORMAT,
            "version": _VERSION,
            "access": _ACCESS,
            "rows": {"type": ["integer", "null"]},
            "columns": _STR_LIST,
            "license": {"type": ["string", "null"]},
            "md5sum": _MD5,
            "zarr_manifest_md5sum": _MD5,
            "pointer_columns": _STR_LIST,
            "cached_at": {"type": "string"},
            "files": _STR_LIST,
        },
    },
    "dataset_info": {
        "type": "object",
        "required": ["artifact", "kind", "format", "version", "columns", "license", "md5sum"],
        "additionalProperties": False,
        "properties": {
            **_INFO,
            "kind": {"const": "dataset"},
            "columns": _STR_LIST,
            "rows": {"type": ["integer", "null"]},
            "license": {"type": ["string", "null"]},
            "md5sum": {"anyOf": [_MD5, {"type": "null"}]},
            "zarr_manifest_md5sum": {"anyOf": [_MD5, {"type": "null"}]},
        },
    },
    "benchmark_info": {
        "type": "object",
        "required": ["artifact", "kind", "format", "version", "dataset", "inputs", "targets", "metrics"],
        "additionalProperties": False,
        "properties": {
            **_INFO,
            "kind": {"const": "benchmark"},
            "dataset": _ID,
            "inputs": _STR_LIST,
            "targets": _STR_LIST,
            "metrics": _STR_LIST,
            "main_metric": {"type": ["string", "null"]},
            "md5sum": {"anyOf": [_MD5, {"type": "null"}]},
        },
    },
    "upload": {
        "type": "object",
        "required": ["artifact", "kind", "format", "version", "access", "url"],
        "additionalProperties": False,
        "properties": {
            "artifact": _ID,
            "kind": {"enum": ["dataset", "benchmark", "model"]},
            "format": _FORMAT,
            "version": _VERSION,
            "access": _ACCESS,
            "url": _URL,
            "dataset": _ID,
            "parent": {"anyOf": [_ID, {"type": "null"}]},
        },
    },
    "benchmark": {
        "type": "object",
        "required": [*_TASK_REQUIRED, "md5sum"],
        "additionalProperties": False,
        "properties": {
            **_TASK,
            "kind": {"const": "benchmark"},
            "md5sum": {"anyOf": [_MD5, {"type": "null"}]},
            "index_set_md5sums": {
                "type": "object",
                "required": ["training", "test"],
                "additionalProperties": _MD5,
            },
        },
    },
    "competition": {
        "type": "object",
        "required": [*_TASK_REQUIRED, "start", "end"],
        "additionalProperties": False,
        "properties": {
            **_TASK,
            "kind": {"const": "competition"},
            "start": {"type": ["string", "null"], "format": "date-time"},
            "end": {"type": ["string", "null"], "format": "date-time"},
        },
    },
    "results_upload": {
        "type": "object",
        "required": ["benchmark", "name", "owner", "access", "url", "results"],
        "additionalProperties": False,
        "properties": {
            "benchmark": _ID,
            "name": {"type": "string"},
            "owner": {"type": "string"},
            "access": _ACCESS,
            "url": _URL,
            "results": {"type": "array", "minItems": 1, "items": _SCORE_ROW},
        },
    },
    "evaluation": {
        "type": "object",
        "required": ["competition", "name", "results"],
        "additionalProperties": False,
        "properties": {
            "competition": _ID,
            "name": {"type": ["string", "null"]},
            "results": {"type": "array", "minItems": 1, "items": _SCORE_ROW},
        },
    },
    "cache": {"type": "array", "items": _CACHE_ROW},
    "model": {
        "type": "object",
        "required": ["artifact", "kind", "format", "version", "access", "description", "readme"],
        "additionalProperties": False,
        "properties": {
            "artifact": _ID,
            "kind": {"const": "model"},
            "format": _FORMAT,
            "version": _VERSION,
            "access": _ACCESS,
            "description": {"type": "string"},
            "tags": _STR_LIST,
            "code_url": {"type": ["string", "null"]},
            "report_url": {"type": ["string", "null"]},
            "readme": {"type": "string"},
        },
    },
}


def _snake_keys(data: Any, where: str = "$") -> None:
    """Every key of every object is snake_case (values keyed by a test set or column name are exempt)."""
    if isinstance(data, list):
        for i, item in enumerate(data):
            _snake_keys(item, f"{where}[{i}]")
    elif isinstance(data, dict):
        for key, value in data.items():
            if not re.match(_SNAKE, key):
                raise AssertionError(f"{where}: key {key!r} is not snake_case")
            if key not in ("test_sizes", "target_types", "files"):
                _snake_keys(value, f"{where}.{key}")


def parse(kind: str, stdout: str) -> Any:
    """Parse ``stdout`` as one JSON document and check it against the schema ``kind``."""
    data = json.loads(stdout)
    jsonschema.validate(data, SCHEMAS[kind], format_checker=jsonschema.FormatChecker())
    _snake_keys(data)
    return data
