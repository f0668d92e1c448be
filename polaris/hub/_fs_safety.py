"""Private folders and files for the token and download caches.

A cache folder or file is used only when nobody else could have put it there or changed it:

* it is not a symbolic link (files are opened with ``O_NOFOLLOW``, relative to an already checked folder);
* it belongs to the current user;
* nobody else may write to it (group or world write permission), and the folder holding it cannot be swapped by
  another user (a world-writable parent needs the sticky bit, like ``/tmp``; it must belong to us or root).

Anything else raises :class:`~polaris.errors.UnsafeCacheError` saying why and what to do. Our own folders and files
that are merely readable by others (``0755``, ``0644``) are tightened to ``0700`` / ``0600`` with a warning.
On systems without POSIX owners (Windows) only the symbolic-link rule applies.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

from polaris.errors import UnsafeCacheError

__all__ = [
    "PRIVATE_DIR_MODE",
    "PRIVATE_FILE_MODE",
    "PrivateDir",
    "check_private_dir",
    "ensure_private_dir",
    "ensure_private_subdirs",
    "make_private_tree",
]

logger = logging.getLogger(__name__)

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
#: Folder file descriptors (``dir_fd=``) make every check-then-use atomic where the OS has them.
_HAVE_DIR_FD = bool(_O_DIRECTORY and _O_NOFOLLOW) and os.open in os.supports_dir_fd and os.unlink in os.supports_dir_fd


def current_uid() -> int | None:
    """The effective user id, or ``None`` where files have no POSIX owner."""
    geteuid = getattr(os, "geteuid", None)
    return None if geteuid is None else int(geteuid())


def _refuse(path: Path | str, reason: str, what: str, hint: str | None = None) -> UnsafeCacheError:
    return UnsafeCacheError(
        f"Refusing to use the {what} {path}: it {reason}. Someone else could read or plant its contents.",
        path=str(path),
        reason=reason,
        hint=hint,
    )


def _owner_hint(path: Path | str) -> str:
    return (
        f"Remove {path} if you did not create it (it may be someone else's), or set POLARIS_CACHE_DIR to a folder "
        "only you can write to; then log in again."
    )


def _check(st: os.stat_result, path: Path | str, *, what: str, is_dir: bool) -> bool:
    """Raise when ``st`` is unsafe; return True when it is ours but readable by others (to be tightened)."""
    if stat.S_ISLNK(st.st_mode):
        raise _refuse(path, "is a symbolic link", what, _owner_hint(path))
    if is_dir and not stat.S_ISDIR(st.st_mode):
        raise _refuse(path, "is not a folder", what, _owner_hint(path))
    if not is_dir and not stat.S_ISREG(st.st_mode):
        raise _refuse(path, "is not a regular file", what, _owner_hint(path))
    uid = current_uid()
    if uid is None:
        return False
    if st.st_uid != uid:
        raise _refuse(path, f"belongs to another user (uid {st.st_uid}, you are uid {uid})", what, _owner_hint(path))
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o022:
        kind = "folder" if is_dir else "file"
        raise _refuse(
            path,
            f"is writable by other users (mode {mode:04o})",
            what,
            f"If this {kind} is yours and you trust its contents, run `chmod {'700' if is_dir else '600'} {path}`; "
            f"otherwise remove it. Then log in again.",
        )
    return bool(mode & 0o077)


def _check_parent(folder: Path, what: str) -> None:
    """The folder holding a private folder must not let another user replace it."""
    uid = current_uid()
    if uid is None:
        return
    parent = folder.parent
    try:
        st = os.stat(parent)
    except FileNotFoundError:
        return
    mode = stat.S_IMODE(st.st_mode)
    if st.st_uid not in (uid, 0):
        raise _refuse(
            parent, f"belongs to another user (uid {st.st_uid}), who could replace {folder.name}/", what,
            "Set POLARIS_CACHE_DIR to a folder of your own.",
        )  # fmt: skip
    if mode & 0o002 and not mode & stat.S_ISVTX:
        raise _refuse(
            parent, f"is writable by every user without the sticky bit (mode {mode:04o}), so {folder.name}/ can be "
            "replaced", what, f"Run `chmod +t {parent}` or set POLARIS_CACHE_DIR to a folder of your own.",
        )  # fmt: skip


def _tighten_warning(path: Path | str, old: int, new: int, what: str) -> None:
    logger.warning("The %s %s was readable by other users (mode %04o); changed it to %04o", what, path, old, new)


def ensure_private_dir(path: Path, *, what: str = "cache folder") -> Path:
    """Create ``path`` (``0700``) if missing, check it is private to us, tighten it if only readable by others.

    Missing ancestors are created too (the nearest one ``0700``); existing ancestors are not changed.

    Raises:
        UnsafeCacheError: ``path`` is a symbolic link or not a folder, belongs to another user, is writable by
            others, or sits in a folder another user could swap it in.
        OSError: the folder cannot be created.
    """
    path = Path(path)
    if not path.parent.exists():
        path.parent.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    _check_parent(path, what)
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, PRIVATE_DIR_MODE)
    st = os.lstat(path)
    if _check(st, path, what=what, is_dir=True):
        os.chmod(path, PRIVATE_DIR_MODE)
        _tighten_warning(path, stat.S_IMODE(st.st_mode), PRIVATE_DIR_MODE, what)
    return path


def check_private_dir(path: Path, *, what: str = "cache folder") -> None:
    """Like :func:`ensure_private_dir` for a folder that may not exist yet: nothing is created.

    Raises:
        UnsafeCacheError: ``path`` exists and is not private to us (see :func:`ensure_private_dir`).
    """
    path = Path(path)
    if not os.path.lexists(path):
        return
    _check_parent(path, what)
    st = os.lstat(path)
    if _check(st, path, what=what, is_dir=True):
        os.chmod(path, PRIVATE_DIR_MODE)
        _tighten_warning(path, stat.S_IMODE(st.st_mode), PRIVATE_DIR_MODE, what)


def ensure_private_subdirs(folder: Path, *, root: Path, what: str = "cache folder") -> Path:
    """Check ``root`` as :func:`ensure_private_dir` does, then create ``folder`` (inside it) and its parents ``0700``.

    Raises:
        UnsafeCacheError: ``root`` is not private. ValueError: ``folder`` is not inside ``root``.
    """
    root, folder = Path(root), Path(folder)
    relative = folder.relative_to(root)
    ensure_private_dir(root, what=what)
    current = root
    for part in relative.parts:
        current = current / part
        with contextlib.suppress(FileExistsError):
            os.mkdir(current, PRIVATE_DIR_MODE)
    return folder


def make_private_tree(path: Path) -> None:
    """Make a file, or a folder and everything in it, owner-only (files ``0600``, folders ``0700``).

    For what this package itself just wrote (a cache entry before it is renamed into place); symbolic links are left
    alone (never followed).
    """
    path = Path(path)
    if path.is_symlink():
        return
    if path.is_file():
        os.chmod(path, PRIVATE_FILE_MODE)
        return
    if not path.is_dir():
        return
    os.chmod(path, PRIVATE_DIR_MODE)
    for root, dirs, files in os.walk(path):
        for name in dirs:
            child = os.path.join(root, name)
            if not os.path.islink(child):
                os.chmod(child, PRIVATE_DIR_MODE)
        for name in files:
            child = os.path.join(root, name)
            if not os.path.islink(child):
                os.chmod(child, PRIVATE_FILE_MODE)


class PrivateDir:
    """A checked private folder, and files in it read and written without following symbolic links.

    Use :meth:`open` as a context manager. Where the OS has folder file descriptors, every file operation is relative
    to the descriptor that was checked, so swapping the folder afterwards changes nothing.

    Args:
        path: the folder.
        what: how errors and warnings name it (e.g. ``"token cache folder"``).
    """

    def __init__(self, path: Path, *, what: str) -> None:
        self.path = Path(path)
        self.what = what
        self._fd: int | None = None

    @classmethod
    @contextlib.contextmanager
    def open(cls, path: Path, *, what: str, create: bool) -> Iterator[PrivateDir | None]:
        """The checked folder (created when ``create``); ``None`` when it does not exist and ``create`` is false.

        Raises:
            UnsafeCacheError: see :func:`ensure_private_dir`.
        """
        folder = cls(path, what=what)
        if create:
            ensure_private_dir(folder.path, what=what)
        elif not os.path.lexists(folder.path):
            yield None
            return
        else:
            _check_parent(folder.path, what)
        if _HAVE_DIR_FD:
            try:
                fd = os.open(folder.path, os.O_RDONLY | _O_DIRECTORY | _O_NOFOLLOW | _O_CLOEXEC)
            except FileNotFoundError:
                yield None
                return
            except OSError as exc:  # ELOOP (a symbolic link) or ENOTDIR
                st = os.lstat(folder.path)
                _check(st, folder.path, what=what, is_dir=True)
                raise _refuse(folder.path, f"cannot be opened as a folder ({exc.strerror})", what) from None
            try:
                folder._fd = fd
                st = os.fstat(fd)
                if _check(st, folder.path, what=what, is_dir=True):
                    os.fchmod(fd, PRIVATE_DIR_MODE)
                    _tighten_warning(folder.path, stat.S_IMODE(st.st_mode), PRIVATE_DIR_MODE, what)
                yield folder
            finally:
                folder._fd = None
                os.close(fd)
        else:
            if not create:
                st = os.lstat(folder.path)
                if _check(st, folder.path, what=what, is_dir=True):
                    os.chmod(folder.path, PRIVATE_DIR_MODE)
                    _tighten_warning(folder.path, stat.S_IMODE(st.st_mode), PRIVATE_DIR_MODE, what)
            yield folder

    # ------------------------------------------------------------------ plumbing
    def _open(self, name: str, flags: int, mode: int = PRIVATE_FILE_MODE) -> int:
        flags |= _O_NOFOLLOW | _O_CLOEXEC
        if self._fd is not None:
            return os.open(name, flags, mode, dir_fd=self._fd)
        return os.open(self.path / name, flags, mode)

    def _unlink(self, name: str) -> None:
        if self._fd is not None:
            os.unlink(name, dir_fd=self._fd)
        else:
            os.unlink(self.path / name)

    def _file_what(self) -> str:
        return self.what.replace("folder", "file") if "folder" in self.what else f"{self.what} file"

    # ------------------------------------------------------------------ files
    def read(self, name: str) -> bytes | None:
        """The content of file ``name``, or ``None`` when it does not exist. Tightens it to ``0600`` if needed.

        Raises:
            UnsafeCacheError: the file is a symbolic link, not a regular file, someone else's or writable by others.
            OSError: it cannot be read.
        """
        path = self.path / name
        what = self._file_what()
        try:
            fd = self._open(name, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        except FileNotFoundError:
            return None
        except OSError as exc:
            if os.path.islink(path):
                raise _refuse(path, "is a symbolic link", what, _owner_hint(path)) from None
            raise exc
        try:
            st = os.fstat(fd)
            if _check(st, path, what=what, is_dir=False):
                os.fchmod(fd, PRIVATE_FILE_MODE)
                _tighten_warning(path, stat.S_IMODE(st.st_mode), PRIVATE_FILE_MODE, what)
        except BaseException:
            os.close(fd)
            raise
        with os.fdopen(fd, "rb") as handle:
            return handle.read()

    def write_atomic(self, name: str, data: bytes) -> None:
        """Replace file ``name`` by ``data`` atomically (``0600`` temporary file, fsync, rename, fsync the folder).

        Raises:
            OSError: the file cannot be written.
        """
        tmp = f".{name}.{secrets.token_hex(6)}.tmp"
        fd = self._open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        try:
            with os.fdopen(fd, "wb") as handle:
                if hasattr(os, "fchmod"):
                    os.fchmod(handle.fileno(), PRIVATE_FILE_MODE)  # whatever the umask
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            if self._fd is not None:
                os.replace(tmp, name, src_dir_fd=self._fd, dst_dir_fd=self._fd)
                with contextlib.suppress(OSError):
                    os.fsync(self._fd)
            else:
                os.replace(self.path / tmp, self.path / name)
        except BaseException:
            with contextlib.suppress(OSError):
                self._unlink(tmp)
            raise

    def remove(self, name: str) -> bool:
        """Delete file ``name`` (never what a link points to). Returns whether it existed."""
        try:
            self._unlink(name)
        except FileNotFoundError:
            return False
        return True
