"""Keeping secrets out of log lines, exception text and reprs.

* :func:`redact_text` masks what looks like a credential in free text: ``Authorization`` / ``Cookie`` /
  ``x-amz-security-token`` header values (as ``name: value`` lines and inside dict reprs), signatures and tokens in
  query strings or forms (``access_token=``, ``code=``, ``token=``, ``X-Amz-Credential=``, ``X-Amz-Signature=``,
  ``Signature=``...), token fields of JSON / dict reprs, JWT-looking strings, and the user-info part of URLs
  (``https://user:pass@host`` becomes ``https://***@host``).
* :func:`mask_secret` shows a secret as ``***`` plus its last 4 characters (nothing of a short one).
* :class:`RedactingFilter` is a :class:`logging.Filter` that rewrites records with :func:`redact_text`;
  :func:`install_log_redaction` puts it on this package's loggers and on those of the HTTP stacks that log request
  headers at DEBUG (botocore, s3transfer, urllib3, httpx, httpcore, authlib), without importing any of them.

This module imports only the standard library: :mod:`polaris.errors` uses it.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from typing import Any

__all__ = [
    "REDACTED",
    "REDACTED_LOGGERS",
    "RedactingFilter",
    "install_log_redaction",
    "mask_secret",
    "redact_text",
    "redact_url",
]

#: What replaces a secret that is not shown at all.
REDACTED = "***"
#: A secret is shown with its last characters only when it has at least this many (the rest stays hidden).
_MIN_LEN_FOR_TAIL = 12
_TAIL = 4

#: Loggers (and all their children) whose records are redacted.
REDACTED_LOGGERS = ("polaris", "botocore", "boto3", "s3transfer", "urllib3", "httpx", "httpcore", "authlib", "obstore")

_HEADER_NAMES = (
    r"authorization|proxy-authorization|cookie|set-cookie|x-amz-security-token|x-amz-credential|x-amz-signature"
    r"|x-api-key|x-auth-token"
)
#: ``'Authorization': b'...'`` or ``"x-amz-security-token": "..."`` (dict / tuple reprs, JSON).
_QUOTED_HEADER = re.compile(rf"""(?i)(["'](?:{_HEADER_NAMES})["']\s*[:,]\s*b?)(["'])(.*?)(?<!\\)\2""")
#: ``Authorization: Bearer ...`` / ``x-amz-security-token:jwt/...`` as a header line (up to the end of the line).
_LINE_HEADER = re.compile(rf"""(?im)(?<![\w-])((?:{_HEADER_NAMES})\s*:\s*)(?!["'\s])([^\r\n]+)""")

_PARAM_NAMES = (
    r"access_token|refresh_token|id_token|subject_token|actor_token|token|code|code_verifier|client_secret|password"
    r"|secret|x-amz-credential|x-amz-signature|x-amz-security-token|signature|credential|sig|awsaccesskeyid"
)
#: ``?access_token=...&``, ``&code=...``, ``, Signature=...`` (query strings, forms, AWS Authorization values).
_PARAM = re.compile(rf"""(?i)(?<![\w.-])((?:{_PARAM_NAMES})=)([^&\s'",;#)}}\]>]+)""")
#: ``"access_token": "..."`` / ``'refresh_token': '...'`` in JSON or dict reprs.
_FIELD_NAMES = (
    r"access_token|refresh_token|id_token|subject_token|client_secret|password|secret|secret_access_key"
    r"|aws_secret_access_key|session_token|aws_session_token|token|code|code_verifier"
)
_QUOTED_FIELD = re.compile(rf"""(?i)(["'](?:{_FIELD_NAMES})["']\s*:\s*b?)(["'])(.*?)(?<!\\)\2""")
#: Three base64url parts, the first one a JSON object (``eyJ`` is ``{"``).
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
#: ``scheme://user:pass@`` (the user-info part of a URL).
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^/\s?#@'\"<>]+)@")


def mask_secret(secret: str | None) -> str:
    """``***`` plus the last 4 characters of ``secret`` (only ``***`` for short or empty ones)."""
    if not secret:
        return REDACTED
    text = str(secret)
    if len(text) < _MIN_LEN_FOR_TAIL:
        return REDACTED
    return REDACTED + text[-_TAIL:]


def _masked_quoted(match: re.Match[str]) -> str:
    prefix, quote, value = match.group(1, 2, 3)
    if value.startswith(REDACTED):
        return match.group(0)
    return f"{prefix}{quote}{mask_secret(value)}{quote}"


def _masked_plain(match: re.Match[str]) -> str:
    prefix, value = match.group(1, 2)
    if value.startswith(REDACTED):
        return match.group(0)
    return f"{prefix}{mask_secret(value)}"


_RULES: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    (_URL_USERINFO, lambda m: f"{m.group(1)}{REDACTED}@"),
    (_QUOTED_HEADER, _masked_quoted),
    (_QUOTED_FIELD, _masked_quoted),
    (_LINE_HEADER, _masked_plain),
    (_PARAM, _masked_plain),
    (_JWT, lambda m: mask_secret(m.group(0))),
)


def redact_text(text: str) -> str:
    """``text`` with every credential-looking part masked (see the module docstring). Cheap when there is none."""
    if not text:
        return text
    for pattern, replace in _RULES:
        text = pattern.sub(replace, text)
    return text


def redact_url(url: str | None) -> str:
    """A URL fit to show: no user-info, and token or signature query values masked."""
    return "" if url is None else redact_text(str(url))


# ---------------------------------------------------------------------------------------------- logging
class RedactingFilter(logging.Filter):
    """Rewrites a record's message (and its formatted traceback) with :func:`redact_text`; never drops a record.

    Attach it to a logger (records logged there) or to a handler (everything that handler emits).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        _redact_record(record)
        return True


def _redact_record(record: logging.LogRecord) -> None:
    if getattr(record, "_polaris_redacted", False):
        return
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: leave it to logging's own error handling
        return
    cleaned = redact_text(message)
    if cleaned != message:
        record.msg = cleaned
        record.args = None
    if record.exc_info and not record.exc_text:
        record.exc_text = redact_text(logging.Formatter().formatException(record.exc_info))
    elif record.exc_text:
        record.exc_text = redact_text(record.exc_text)
    if record.stack_info:
        record.stack_info = redact_text(record.stack_info)
    record._polaris_redacted = True


_FILTER = RedactingFilter()
_install_lock = threading.Lock()
_factory_installed = False
_loggers_seen = 0


def _covered(name: str) -> bool:
    return any(name == root or name.startswith(root + ".") for root in REDACTED_LOGGERS)


def install_log_redaction() -> None:
    """Redact secrets in every record of :data:`REDACTED_LOGGERS` and their children. Safe to call often.

    A filter on a logger only sees records logged on that very logger, not those of its children, so the filter goes
    on each existing logger of these trees, and a wrapper around the log-record factory (chaining to the previous
    one) covers loggers created later, e.g. by importing botocore after the client.
    """
    global _factory_installed, _loggers_seen
    known = logging.Logger.manager.loggerDict
    if _factory_installed and len(known) == _loggers_seen:
        return  # no logger was created since the last call (storage sessions call this each time)
    with _install_lock:
        _loggers_seen = len(known)
        for name in (*REDACTED_LOGGERS, *list(known)):
            if not _covered(name):
                continue
            logger = logging.getLogger(name)
            if _FILTER not in logger.filters:
                logger.addFilter(_FILTER)
        if not _factory_installed:
            previous = logging.getLogRecordFactory()

            def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
                record = previous(*args, **kwargs)
                if _covered(record.name):
                    _redact_record(record)
                return record

            logging.setLogRecordFactory(factory)
            _factory_installed = True
