"""SQLite persistence of the local Hub: users, organizations, artifacts, OAuth2 codes and tokens.

One connection guarded by a lock: every public method is one transaction, so two concurrent
uploads of the same artifact serialise and leave exactly one consistent row (UPSERT).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (
    slug TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    email TEXT NOT NULL,
    external_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS organizations (slug TEXT PRIMARY KEY, external_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS memberships (
    org TEXT NOT NULL REFERENCES organizations(slug),
    user TEXT NOT NULL REFERENCES users(slug),
    PRIMARY KEY (org, user)
);
CREATE TABLE IF NOT EXISTS artifacts (
    kind TEXT NOT NULL,
    owner TEXT NOT NULL,
    slug TEXT NOT NULL,
    access TEXT NOT NULL,
    body TEXT NOT NULL,
    hidden TEXT,
    created_by TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (kind, owner, slug)
);
CREATE TABLE IF NOT EXISTS auth_codes (
    code TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    scope TEXT NOT NULL,
    user TEXT NOT NULL,
    code_challenge TEXT,
    code_challenge_method TEXT,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS idp_tokens (
    access_token TEXT PRIMARY KEY,
    refresh_token TEXT UNIQUE,
    client_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    user TEXT NOT NULL,
    issued_at REAL NOT NULL,
    expires_in INTEGER NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0,
    refresh_revoked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS revoked_tokens (
    jti TEXT PRIMARY KEY,
    expires_at REAL NOT NULL,
    revoked_at REAL NOT NULL
);
"""
MIGRATIONS = (
    # (table, column, definition): columns added after a data dir may have been created
    ("artifacts", "previous", "TEXT"),
)
STORAGE_KINDS = ("dataset", "dataset_v2", "competition_dataset", "benchmark_v2")
"""Artifact kinds checked against object storage at start (``repair``); a replace keeps the body it replaced."""

PBKDF2_ITERATIONS = 100_000
AUTH_CODE_LIFETIME_SECONDS = 300
REVOCATION_ANSWERS_MAX = 10_000
"""Denylist answers :meth:`Database.is_revoked` remembers (forgotten at the next revocation, or when full)."""


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """PBKDF2-SHA256 hash of a password as ``pbkdf2$<iterations>$<salt hex>$<hash hex>``."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, PBKDF2_ITERATIONS)
    return f"pbkdf2${PBKDF2_ITERATIONS}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        _, iterations, salt_hex, digest_hex = stored.split("$")
        digest = hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt_hex), int(iterations))
    except ValueError:
        return False
    return hmac.compare_digest(digest.hex(), digest_hex)


@dataclass(frozen=True)
class User:
    slug: str
    email: str
    external_id: str

    def get_user_id(self) -> str:  # authlib's user protocol
        return self.slug


@dataclass(frozen=True)
class Artifact:
    kind: str
    owner: str
    slug: str
    access: str
    body: dict[str, Any]
    hidden: Any
    created_by: str
    created_at: float
    updated_at: float


class Database:
    """Thread-safe access to the emulator's SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._revocation_answers: dict[str, bool] = {}
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")  # a commit is on disk before the request is answered
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.executescript(SCHEMA)
        for table, column, definition in MIGRATIONS:
            columns = {r["name"] for r in self._conn.execute(f"PRAGMA table_info({table})").fetchall()}
            if column not in columns:
                self._conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction; rolled back on any exception."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    # ----------------------------------------------------------------- meta
    def secret(self, name: str) -> bytes:
        """A per-data-dir random secret, created on first use (JWT signing key, S3 secret)."""
        with self.tx() as c:
            row = c.execute("SELECT value FROM meta WHERE key = ?", (name,)).fetchone()
            if row is not None:
                return bytes.fromhex(row["value"])
            value = secrets.token_bytes(32)
            c.execute("INSERT INTO meta(key, value) VALUES (?, ?)", (name, value.hex()))
            return value

    # ---------------------------------------------------------- identities
    def upsert_user(self, slug: str, password: str, *, email: str | None = None) -> None:
        with self.tx() as c:
            row = c.execute("SELECT password_hash FROM users WHERE slug = ?", (slug,)).fetchone()
            if row is not None and check_password(password, row["password_hash"]):
                return  # unchanged: keep the stored hash (restart with the same --user)
            c.execute(
                "INSERT INTO users(slug, password_hash, email, external_id) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(slug) DO UPDATE SET password_hash = excluded.password_hash",
                (slug, hash_password(password), email or f"{slug}@example.org", f"user_{secrets.token_hex(8)}"),
            )

    def upsert_org(self, slug: str, members: list[str]) -> None:
        with self.tx() as c:
            c.execute(
                "INSERT INTO organizations(slug, external_id) VALUES (?, ?) ON CONFLICT(slug) DO NOTHING",
                (slug, f"org_{secrets.token_hex(8)}"),
            )
            for member in members:
                c.execute("INSERT OR IGNORE INTO memberships(org, user) VALUES (?, ?)", (slug, member))

    def get_user(self, slug: str) -> User | None:
        with self._lock:
            row = self._conn.execute("SELECT * FROM users WHERE slug = ?", (slug,)).fetchone()
        return None if row is None else User(row["slug"], row["email"], row["external_id"])

    def authenticate(self, slug: str, password: str) -> User | None:
        with self._lock:
            row = self._conn.execute("SELECT * FROM users WHERE slug = ?", (slug,)).fetchone()
        if row is None or not check_password(password, row["password_hash"]):
            return None
        return User(row["slug"], row["email"], row["external_id"])

    def user_orgs(self, slug: str) -> list[str]:
        with self._lock:
            rows = self._conn.execute("SELECT org FROM memberships WHERE user = ? ORDER BY org", (slug,)).fetchall()
        return [r["org"] for r in rows]

    def owner_info(self, slug: str) -> dict[str, Any] | None:
        """``HubOwner`` object of a user or organization slug, or None when unknown."""
        with self._lock:
            row = self._conn.execute("SELECT external_id FROM users WHERE slug = ?", (slug,)).fetchone()
            if row is not None:
                return {"slug": slug, "externalId": row["external_id"], "type": "user"}
            row = self._conn.execute("SELECT external_id FROM organizations WHERE slug = ?", (slug,)).fetchone()
            if row is not None:
                return {"slug": slug, "externalId": row["external_id"], "type": "organization"}
        return None

    def list_users(self) -> list[str]:
        with self._lock:
            return [r["slug"] for r in self._conn.execute("SELECT slug FROM users ORDER BY slug").fetchall()]

    # ----------------------------------------------------------- artifacts
    @staticmethod
    def _artifact(row: sqlite3.Row) -> Artifact:
        return Artifact(
            kind=row["kind"],
            owner=row["owner"],
            slug=row["slug"],
            access=row["access"],
            body=json.loads(row["body"]),
            hidden=None if row["hidden"] is None else json.loads(row["hidden"]),
            created_by=row["created_by"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )

    def get_artifact(self, kind: str, owner: str, slug: str) -> Artifact | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT * FROM artifacts WHERE kind = ? AND owner = ? AND slug = ?", (kind, owner, slug)
            ).fetchone()
        return None if row is None else self._artifact(row)

    def put_artifact(
        self,
        kind: str,
        owner: str,
        slug: str,
        access: str,
        body: dict[str, Any],
        *,
        created_by: str,
        hidden: Any = None,
        keep_hidden: bool = True,
        keep_previous: bool = False,
    ) -> Artifact:
        """Insert or replace an artifact in one statement (UPSERT); returns the stored row.

        A replaced row of a :data:`STORAGE_KINDS` kind keeps the body it replaced (``previous``), so the start-up
        repair can roll back to it; ``keep_previous`` keeps the older one instead (the replaced body never became
        complete, so it is no version to go back to).
        """
        now = time.time()
        with self.tx() as c:
            c.execute(
                "INSERT INTO artifacts(kind, owner, slug, access, body, hidden, created_by, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(kind, owner, slug) DO UPDATE SET access = excluded.access, body = excluded.body, "
                f"previous = CASE WHEN artifacts.kind NOT IN ({','.join(repr(k) for k in STORAGE_KINDS)}) THEN NULL "
                "WHEN ? AND artifacts.previous IS NOT NULL THEN artifacts.previous ELSE artifacts.body END, "
                "hidden = CASE WHEN ? AND excluded.hidden IS NULL THEN artifacts.hidden ELSE excluded.hidden END, "
                "updated_at = excluded.updated_at",
                (
                    kind,
                    owner,
                    slug,
                    access,
                    json.dumps(body, sort_keys=True),
                    None if hidden is None else json.dumps(hidden),
                    created_by,
                    now,
                    now,
                    1 if keep_previous else 0,
                    1 if keep_hidden else 0,
                ),
            )
            row = c.execute(
                "SELECT * FROM artifacts WHERE kind = ? AND owner = ? AND slug = ?", (kind, owner, slug)
            ).fetchone()
        return self._artifact(row)

    def list_artifacts(
        self, kinds: tuple[str, ...], viewer_owners: list[str], limit: int, offset: int
    ) -> tuple[list[Artifact], int]:
        """Artifacts of the given kinds visible to a viewer (public ones plus those of ``viewer_owners``).

        An ``offset`` at or past the total gives an empty page (SQLite's integers stop at 2**63 - 1).
        """
        kind_marks = ",".join("?" for _ in kinds)
        owner_marks = ",".join("?" for _ in viewer_owners) or "''"
        where = f"kind IN ({kind_marks}) AND (access = 'public' OR owner IN ({owner_marks}))"
        params: list[Any] = [*kinds, *viewer_owners]
        with self._lock:
            total = self._conn.execute(f"SELECT COUNT(*) FROM artifacts WHERE {where}", params).fetchone()[0]
            if offset >= total:
                return [], int(total)
            rows = self._conn.execute(
                f"SELECT * FROM artifacts WHERE {where} ORDER BY created_at, owner, slug LIMIT ? OFFSET ?",
                [*params, limit, offset],
            ).fetchall()
        return [self._artifact(r) for r in rows], int(total)

    def storage_artifacts(self, kinds: tuple[str, ...] = STORAGE_KINDS) -> list[tuple[Artifact, dict[str, Any] | None]]:
        """Every artifact of ``kinds``, with the body it replaced (None if never replaced)."""
        marks = ",".join("?" for _ in kinds)
        with self._lock:
            rows = self._conn.execute(
                f"SELECT * FROM artifacts WHERE kind IN ({marks}) ORDER BY kind, owner, slug", kinds
            ).fetchall()
        return [(self._artifact(r), None if r["previous"] is None else json.loads(r["previous"])) for r in rows]

    def roll_back_artifact(self, kind: str, owner: str, slug: str) -> bool:
        """Put back the body an artifact replaced (its replacement never fully arrived); False if there was none."""
        with self.tx() as c:
            return (
                c.execute(
                    "UPDATE artifacts SET body = previous, previous = NULL "
                    "WHERE kind = ? AND owner = ? AND slug = ? AND previous IS NOT NULL",
                    (kind, owner, slug),
                ).rowcount
                == 1
            )

    def delete_artifact(self, kind: str, owner: str, slug: str) -> bool:
        with self.tx() as c:
            return (
                c.execute(
                    "DELETE FROM artifacts WHERE kind = ? AND owner = ? AND slug = ?", (kind, owner, slug)
                ).rowcount
                == 1
            )

    def count_rows(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM artifacts").fetchone()[0])

    # --------------------------------------------------------- OAuth2 (IdP)
    def save_code(
        self,
        code: str,
        *,
        client_id: str,
        redirect_uri: str,
        scope: str,
        user: str,
        code_challenge: str | None,
        code_challenge_method: str | None,
    ) -> None:
        with self.tx() as c:
            c.execute(
                "INSERT INTO auth_codes VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (code, client_id, redirect_uri, scope, user, code_challenge, code_challenge_method, time.time()),
            )

    def get_code(self, code: str, client_id: str) -> sqlite3.Row | None:
        with self._lock:
            row: sqlite3.Row | None = self._conn.execute(
                "SELECT * FROM auth_codes WHERE code = ? AND client_id = ?", (code, client_id)
            ).fetchone()
        if row is None or time.time() - row["created_at"] > AUTH_CODE_LIFETIME_SECONDS:
            return None
        return row

    def delete_code(self, code: str) -> bool:
        """Delete a code; False when it was already used (a concurrent exchange won)."""
        with self.tx() as c:
            return c.execute("DELETE FROM auth_codes WHERE code = ?", (code,)).rowcount == 1

    def save_idp_token(self, token: dict[str, Any], *, client_id: str, user: str) -> None:
        with self.tx() as c:
            c.execute(
                "INSERT INTO idp_tokens(access_token, refresh_token, client_id, scope, user, issued_at, expires_in) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    token["access_token"],
                    token.get("refresh_token"),
                    client_id,
                    token.get("scope", ""),
                    user,
                    time.time(),
                    int(token.get("expires_in", 0)),
                ),
            )

    def idp_token_by_refresh(self, refresh_token: str) -> sqlite3.Row | None:
        with self._lock:
            row: sqlite3.Row | None = self._conn.execute(
                "SELECT * FROM idp_tokens WHERE refresh_token = ? AND refresh_revoked = 0", (refresh_token,)
            ).fetchone()
        return row

    def idp_token_by_access(self, access_token: str) -> sqlite3.Row | None:
        with self._lock:
            row: sqlite3.Row | None = self._conn.execute(
                "SELECT * FROM idp_tokens WHERE access_token = ? AND revoked = 0", (access_token,)
            ).fetchone()
        if row is None or row["issued_at"] + row["expires_in"] < time.time():
            return None
        return row

    def revoke_refresh(self, refresh_token: str) -> bool:
        with self.tx() as c:
            return (
                c.execute(
                    "UPDATE idp_tokens SET refresh_revoked = 1, revoked = 1 "
                    "WHERE refresh_token = ? AND refresh_revoked = 0",
                    (refresh_token,),
                ).rowcount
                == 1
            )

    # ---------------------------------------------------- Hub token denylist
    def revoke_jti(self, jti: str, expires_at: float) -> None:
        """Deny a Hub token by its id until it expires anyway (expired entries are pruned here)."""
        now = time.time()
        with self.tx() as c:  # holds the lock is_revoked takes: no answer is remembered from before this commit
            self._revocation_answers.clear()
            c.execute("DELETE FROM revoked_tokens WHERE expires_at < ?", (now,))
            c.execute(
                "INSERT INTO revoked_tokens(jti, expires_at, revoked_at) VALUES (?, ?, ?) ON CONFLICT(jti) DO NOTHING",
                (jti, expires_at, now),
            )

    def is_revoked(self, jti: str) -> bool:
        """Is this Hub token id on the denylist? Answers are remembered until the next revocation.

        Every storage request asks (for the Hub token its storage token was exchanged from); the denylist only
        changes through :meth:`revoke_jti` of this object, which forgets the remembered answers.
        """
        with self._lock:
            known = self._revocation_answers.get(jti)
            if known is not None:
                return known
            row = self._conn.execute("SELECT 1 FROM revoked_tokens WHERE jti = ?", (jti,)).fetchone()
            if len(self._revocation_answers) >= REVOCATION_ANSWERS_MAX:
                self._revocation_answers.clear()
            self._revocation_answers[jti] = row is not None
        return row is not None

    def revoke_idp_token(self, token: str) -> bool:
        """Revoke an identity-provider access or refresh token (RFC 7009); False when it is unknown."""
        with self.tx() as c:
            by_access = c.execute(
                "UPDATE idp_tokens SET revoked = 1 WHERE access_token = ? AND revoked = 0", (token,)
            ).rowcount
            by_refresh = c.execute(
                "UPDATE idp_tokens SET revoked = 1, refresh_revoked = 1 "
                "WHERE refresh_token = ? AND refresh_revoked = 0",
                (token,),
            ).rowcount
        return bool(by_access or by_refresh)
