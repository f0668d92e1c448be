"""The filesystem guards of the caches (polaris.hub._fs_safety): what they accept and what they refuse."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from polaris.errors import InvalidArtifactError, UnsafeCacheError
from polaris.hub import _fs_safety
from polaris.hub.storage.chunk_cache import checked_md5


def test_check_inside_accepts_real_folders_and_refuses_ways_out(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "a" / "b").mkdir(parents=True)
    _fs_safety.check_inside(root / "a" / "b" / "entry", root=root)
    _fs_safety.check_inside(root / "not-yet" / "entry", root=root)  # nothing there: nothing to delete
    for bad in (tmp_path / "elsewhere", root, root / ".." / "x", root / "a" / ".." / ".." / "x"):
        with pytest.raises(UnsafeCacheError):
            _fs_safety.check_inside(bad, root=root)
    (root / "link").symlink_to(tmp_path, target_is_directory=True)
    with pytest.raises(UnsafeCacheError) as err:
        _fs_safety.check_inside(root / "link" / "entry", root=root)
    assert "symbolic link" in err.value.reason
    _fs_safety.check_inside(root / "link", root=root)  # the link itself may be removed (never followed)


def test_open_regular_refuses_links_fifos_and_folders_without_blocking(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"ok")
    (tmp_path / "link").symlink_to(tmp_path / "file")
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "folder").mkdir()
    assert _fs_safety.read_regular(tmp_path / "file", what="x") == b"ok"
    for name, kind in (("link", "symbolic link"), ("fifo", "FIFO"), ("folder", "folder")):
        with pytest.raises(UnsafeCacheError) as err:
            _fs_safety.read_regular(tmp_path / name, what="x")
        assert kind in err.value.reason, err.value.reason
    with pytest.raises(FileNotFoundError):
        _fs_safety.read_regular(tmp_path / "missing", what="x")
    with pytest.raises(ValueError):
        _fs_safety.open_regular(tmp_path / "file", os.O_WRONLY | os.O_TRUNC, what="x")


def test_make_private_dirs_creates_only_what_is_missing_0700(tmp_path: Path) -> None:
    os.chmod(tmp_path, 0o755)
    old = os.umask(0o277)  # would leave even the owner unable to write
    try:
        created = _fs_safety.make_private_dirs(tmp_path / "a" / "b")
    finally:
        os.umask(old)
    assert created == [tmp_path / "a", tmp_path / "a" / "b"]
    assert [stat.S_IMODE(os.stat(p).st_mode) for p in created] == [0o700, 0o700]
    assert stat.S_IMODE(os.stat(tmp_path).st_mode) == 0o755  # an existing folder is not changed


def test_file_lock_creates_0600_and_leaves_an_existing_lock_file_as_it_is(tmp_path: Path) -> None:
    lock = tmp_path / "entry.lock"
    with _fs_safety.file_lock(lock, timeout=1):
        assert stat.S_IMODE(os.stat(lock).st_mode) == 0o600
    lock.write_bytes(b"kept")
    os.chmod(lock, 0o640)
    with _fs_safety.file_lock(lock, timeout=1):
        pass
    assert lock.read_bytes() == b"kept" and stat.S_IMODE(os.stat(lock).st_mode) == 0o640


def test_checked_md5() -> None:
    assert checked_md5("ABCDEF0123456789abcdef0123456789") == "abcdef0123456789abcdef0123456789"
    for bad in (None, 5, "", "../../x", "/etc/passwd", "a" * 31, "a" * 32 + "\n", "z" * 32):
        with pytest.raises(InvalidArtifactError) as err:
            checked_md5(bad, key="y/0", artifact="org/ds")
        assert "org/ds" in err.value.message and "y/0" in err.value.message
