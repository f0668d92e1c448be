"""Attacks on the token and download caches by another local user, and loosened permissions of our own files."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from attack_helpers import IS_ROOT, OTHER_UID, SharedCache, planted_token_file

from polaris import _paths
from polaris.errors import UnsafeCacheError
from polaris.hub import _fs_safety
from polaris.hub.cache import DownloadCache
from polaris.hub.client import PolarisHubClient
from polaris.hub.settings import PolarisHubSettings
from polaris.hub.token_cache import CachedTokens, TokenCache

HUB_URL = "http://127.0.0.1:9/"  # nothing listens: these tests never reach a Hub


def _token_name(hub_url: str = HUB_URL) -> str:
    return TokenCache(hub_url).path.name


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def _refused(shared: SharedCache, reason_part: str) -> UnsafeCacheError:
    """Build a client on the shared cache: it must refuse, naming why (the reason is exact with a real other uid)."""
    with pytest.raises(UnsafeCacheError) as info:
        PolarisHubClient(PolarisHubSettings(hub_url=HUB_URL))
    error = info.value
    if shared.real_other_user:
        assert reason_part in error.reason, error.reason
    assert "attacker" not in str(error)
    assert error.hint and ("Remove" in error.hint or "chmod" in error.hint or "POLARIS_CACHE_DIR" in error.hint)
    return error


# ------------------------------------------------------------------ another user plants a login
def test_symlinked_tokens_folder_planted_by_another_user_is_refused(shared_cache: SharedCache) -> None:
    # The attack of the issue: tokens/ is a link to the attacker's folder holding a token for the victim's Hub.
    shared_cache.as_other_user(
        f"mkdir mine && printf '%s' '{planted_token_file(HUB_URL)}' > mine/{_token_name()} && ln -s mine tokens"
    )
    assert (shared_cache.root / "tokens").is_symlink()
    error = _refused(shared_cache, "symbolic link")
    assert error.path == str(shared_cache.root / "tokens")
    assert "tokens" in error.message and "symbolic link" in error.message
    # Nothing was written through the link either.
    assert sorted(os.listdir(shared_cache.root / "mine")) == [_token_name()]


def test_tokens_folder_of_another_user_is_refused(shared_cache: SharedCache) -> None:
    shared_cache.as_other_user(
        f"mkdir tokens && chmod 755 tokens && printf '%s' '{planted_token_file(HUB_URL)}' > tokens/{_token_name()}"
    )
    error = _refused(shared_cache, "belongs to another user")
    assert error.path == str(shared_cache.root / "tokens")


def test_file_planted_in_our_world_writable_folder_is_refused(shared_cache: SharedCache) -> None:
    folder = shared_cache.root / "tokens"
    folder.mkdir(mode=0o700)
    os.chmod(folder, 0o777)  # our own mistake
    shared_cache.as_other_user(f"printf '%s' '{planted_token_file(HUB_URL)}' > tokens/{_token_name()}")
    _refused(shared_cache, "writable by other users")


def test_symlinked_token_file_is_refused_without_following_it(shared_cache: SharedCache) -> None:
    folder = shared_cache.root / "tokens"
    folder.mkdir(mode=0o700)
    shared_cache.as_other_user(f"printf '%s' '{planted_token_file(HUB_URL)}' > planted.json")
    (folder / _token_name()).symlink_to(shared_cache.root / "planted.json")
    error = _refused(shared_cache, "symbolic link")
    if shared_cache.real_other_user:
        assert error.path.endswith(_token_name())


def test_cache_root_writable_by_everyone_without_sticky_bit_is_refused(shared_cache: SharedCache) -> None:
    os.chmod(shared_cache.root, 0o777)  # anyone could rename tokens/ away and put theirs in its place
    with pytest.raises(UnsafeCacheError) as info:
        TokenCache(HUB_URL).save(CachedTokens(hub_token={"access_token": "x" * 20}))
    if shared_cache.real_other_user:
        assert "sticky" in info.value.reason
        assert "chmod +t" in info.value.hint
    assert not (shared_cache.root / "tokens").exists()


def test_refusal_reaches_the_cli_as_one_line_with_a_hint(shared_cache: SharedCache) -> None:
    from typer.testing import CliRunner

    from polaris.cli import app

    shared_cache.as_other_user(
        f"mkdir mine && printf '%s' '{planted_token_file(HUB_URL)}' > mine/x && ln -s mine tokens"
    )
    result = CliRunner().invoke(app, ["whoami"], env={"POLARIS_HUB_URL": HUB_URL})
    assert result.exit_code == 1
    text = " ".join(result.output.split())
    assert "Refusing to use the token cache folder" in text and "Hint:" in text
    assert "attacker" not in text


# ------------------------------------------------------------------ our own files, loosened
def _saved_cache() -> TokenCache:
    cache = TokenCache(HUB_URL)
    cache.save(CachedTokens(hub_token={"access_token": "a" * 40, "expires_at": 4102444800}, identity={"email": "me"}))
    return cache


def test_loosened_token_file_and_folder_are_tightened_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    cache = _saved_cache()
    os.chmod(cache.path, 0o644)
    os.chmod(cache.folder, 0o755)
    with caplog.at_level(logging.WARNING, logger="polaris"):
        tokens = TokenCache(HUB_URL).load()
    assert tokens.hub_token is not None and tokens.identity == {"email": "me"}  # still trusted: ours, not writable
    assert _mode(cache.path) == 0o600 and _mode(cache.folder) == 0o700
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(str(cache.path) in m and "0644" in m for m in warned), warned
    assert any(str(cache.folder) in m and "0755" in m for m in warned), warned


def test_world_writable_token_file_is_refused_with_a_chmod_hint() -> None:
    cache = _saved_cache()
    os.chmod(cache.path, 0o666)
    with pytest.raises(UnsafeCacheError) as info:
        TokenCache(HUB_URL).load()
    assert "writable by other users" in info.value.reason and "0666" in info.value.reason
    assert f"chmod 600 {cache.path}" in info.value.hint


def test_token_file_is_private_whatever_the_umask() -> None:
    old = os.umask(0)
    try:
        cache = _saved_cache()
    finally:
        os.umask(old)
    assert _mode(cache.path) == 0o600 and _mode(cache.folder) == 0o700
    assert [p.name for p in cache.folder.iterdir()] == [cache.path.name]  # no temporary file left


def test_token_file_that_is_a_folder_is_refused() -> None:
    folder = _paths.token_dir()
    (folder / _token_name()).mkdir(parents=True)
    os.chmod(folder, 0o700)
    with pytest.raises(UnsafeCacheError, match="not a regular file"):
        TokenCache(HUB_URL).load()


# ------------------------------------------------------------------ download cache
def _walk_modes(root: Path) -> tuple[set[int], set[int]]:
    dirs, files = {_mode(root)}, set()
    for base, names, leaves in os.walk(root):
        dirs |= {_mode(Path(base, n)) for n in names}
        files |= {_mode(Path(base, n)) for n in leaves}
    return dirs, files


def test_download_cache_is_owner_only(hub_client: Any) -> None:
    old = os.umask(0o022)
    try:
        hub_client.get_dataset("polaris-demo", "freesolv")
        hub_client.get_dataset("polaris-demo", "freesolv-zarr")
    finally:
        os.umask(old)
    root = _paths.data_dir()
    dirs, files = _walk_modes(root)
    assert files, "nothing was cached"
    assert dirs == {0o700}, {oct(m) for m in dirs}
    assert files == {0o600}, {oct(m) for m in files}


def test_symlinked_download_cache_is_refused(shared_cache: SharedCache, hub_client: Any) -> None:
    shared_cache.as_other_user("mkdir theirs && chmod 777 theirs && ln -s theirs data")
    with pytest.raises(UnsafeCacheError):
        hub_client.get_dataset("polaris-demo", "freesolv")
    assert os.listdir(shared_cache.root / "theirs") == []


def test_download_cache_planted_by_another_user_is_never_served(shared_cache: SharedCache, hub_client: Any) -> None:
    # A complete-looking entry in the attacker's folder: refused before any cache hit could serve it.
    shared_cache.as_other_user("mkdir -p theirs/dataset/polaris-demo/freesolv && ln -s theirs data")
    with pytest.raises(UnsafeCacheError) as info:
        hub_client.get_dataset("polaris-demo", "freesolv")
    assert info.value.path == str(shared_cache.root / "data")
    with pytest.raises(UnsafeCacheError):
        DownloadCache()


def test_loosened_download_cache_is_tightened(caplog: pytest.LogCaptureFixture) -> None:
    root = _paths.data_dir()
    root.mkdir(parents=True)
    os.chmod(root, 0o755)
    with caplog.at_level(logging.WARNING, logger="polaris"):
        DownloadCache()
    assert _mode(root) == 0o700
    assert any("0755" in r.getMessage() for r in caplog.records)


def test_token_file_owned_by_another_user_in_our_folder_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    cache = _saved_cache()
    if IS_ROOT:
        os.chown(cache.path, OTHER_UID, OTHER_UID)  # e.g. left by `sudo` or planted by an administrator account
    else:
        real = os.geteuid()
        monkeypatch.setattr(_fs_safety, "current_uid", lambda: real)  # the folder check passes...
        monkeypatch.setattr(_fs_safety, "_check", _foreign_files_only(real))  # ...and the file looks foreign
    with pytest.raises(UnsafeCacheError) as info:
        TokenCache(HUB_URL).load()
    assert "belongs to another user" in info.value.reason and info.value.path == str(cache.path)


def _foreign_files_only(real: int) -> Any:
    original = _fs_safety._check

    def check(st: os.stat_result, path: Any, *, what: str, is_dir: bool) -> bool:
        if not is_dir:
            fields = list(st)
            fields[stat.ST_UID] = real + 1
            st = os.stat_result(fields)
        return original(st, path, what=what, is_dir=is_dir)

    return check


def test_a_real_login_leaves_only_private_files(local_hub: Any) -> None:
    old = os.umask(0)  # the most permissive umask: modes must not depend on it
    try:
        settings = local_hub.settings(username="demo-user", password=local_hub.users["demo-user"])
        with PolarisHubClient(settings) as client:
            client.login()
            client.list_datasets()
    finally:
        os.umask(old)
    root = _paths.cache_root()
    dirs, files = _walk_modes(root)
    assert {p.name for p in root.iterdir()} >= {"tokens", "locks"}
    assert dirs == {0o700}, {oct(m) for m in dirs}
    assert files == {0o600}, {oct(m) for m in files}
    assert [p.suffix for p in (root / "tokens").iterdir()] == [".json"]


def test_a_folder_swapped_after_its_check_is_not_written_through(tmp_path: Path) -> None:
    # Check-then-use race: files are opened relative to the folder descriptor that was checked, never by path.
    assert _fs_safety._HAVE_DIR_FD  # Linux and macOS have it (CI runs on Linux)
    folder = tmp_path / "tokens"
    with _fs_safety.PrivateDir.open(folder, what="token cache folder", create=True) as private:
        assert private is not None
        os.rename(folder, tmp_path / "checked")
        (tmp_path / "attacker").mkdir()
        folder.symlink_to(tmp_path / "attacker")
        private.write_atomic("hub.json", b"{}")
        assert private.read("hub.json") == b"{}"
    assert os.listdir(tmp_path / "attacker") == []
    assert os.listdir(tmp_path / "checked") == ["hub.json"]
    assert _mode(tmp_path / "checked" / "hub.json") == 0o600
