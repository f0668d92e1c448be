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

from polaris.errors import PolarisError, UnsafeCacheError

__all__ = [
    "PRIVATE_DIR_MODE",
    "PRIVATE_FILE_MODE",
    "CacheLockTimeout",
    "PrivateDir",
    "check_inside",
    "check_private_dir",
    "ensure_private_dir",
    "ensure_private_subdirs",
    "file_lock",
    "make_private_dirs",
    "make_private_tree",
    "open_regular",
    "read_regular",
]

logger = logging.getLogger(__name__)

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_NOFOLLOW_KW: dict[str, bool] = {"follow_symlinks": False} if os.chmod in os.supports_follow_symlinks else {}
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


def _owner_hint(path: Path | str, what: str = "token") -> str:
    again = "; then log in again" if "token" in what else ""
    return (
        f"Remove {path} if you did not create it (it may be someone else's), or set POLARIS_CACHE_DIR to a folder "
        f"only you can write to{again}."
    )


def _check(st: os.stat_result, path: Path | str, *, what: str, is_dir: bool) -> bool:
    """Raise when ``st`` is unsafe; return True when it is ours but readable by others (to be tightened)."""
    if stat.S_ISLNK(st.st_mode):
        raise _refuse(path, "is a symbolic link", what, _owner_hint(path, what))
    if is_dir and not stat.S_ISDIR(st.st_mode):
        raise _refuse(path, "is not a folder", what, _owner_hint(path, what))
    if not is_dir and not stat.S_ISREG(st.st_mode):
        raise _refuse(path, "is not a regular file", what, _owner_hint(path, what))
    uid = current_uid()
    if uid is None:
        return False
    if st.st_uid != uid:
        reason = f"belongs to another user (uid {st.st_uid}, you are uid {uid})"
        raise _refuse(path, reason, what, _owner_hint(path, what))
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


def _kind(st: os.stat_result) -> str:
    mode = st.st_mode
    for test, name in (
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def _check_ancestors(path: Path, what: str) -> None:
    """No folder above ``path`` may let every user swap what is below it (world-writable without the sticky bit).

    Checks the real folders (links resolved) from the nearest existing ancestor up to ``/``.
    """
    if current_uid() is None:
        return
    existing = Path(os.path.abspath(path)).parent
    while not os.path.lexists(existing) and existing != existing.parent:
        existing = existing.parent
    current = Path(os.path.realpath(existing))
    while True:
        try:
            st = os.stat(current)
        except OSError:
            st = None
        if st is not None and stat.S_ISDIR(st.st_mode):
            mode = stat.S_IMODE(st.st_mode)
            if mode & 0o002 and not mode & stat.S_ISVTX:
                raise _refuse(
                    path,
                    f"is inside {current}, which every user can write to without the sticky bit (mode {mode:04o}), "
                    "so another user could replace the cache",
                    what,
                    f"Run `chmod o-w {current}` (or `chmod +t {current}`), or set POLARIS_CACHE_DIR to a folder "
                    "of your own.",
                )
        if current == current.parent:
            return
        current = current.parent


def make_private_dirs(path: Path) -> list[Path]:
    """Create ``path`` and its missing ancestors, each exactly ``0700`` whatever the umask. Returns those created.

    Existing folders are left as they are.
    """
    path = Path(os.path.abspath(path))
    missing: list[Path] = []
    current = path
    while not os.path.lexists(current) and current != current.parent:
        missing.append(current)
        current = current.parent
    created: list[Path] = []
    for folder in reversed(missing):
        try:
            os.mkdir(folder, PRIVATE_DIR_MODE)
        except FileExistsError:
            continue  # made by another process meanwhile: not ours to chmod
        os.chmod(folder, PRIVATE_DIR_MODE, **_NOFOLLOW_KW)  # the umask may have removed bits (or, 000, added none)
        created.append(folder)
    return created


def ensure_private_dir(path: Path, *, what: str = "cache folder") -> Path:
    """Create ``path`` (``0700``) if missing, check it is private to us, tighten it if only readable by others.

    Missing ancestors are created too, each ``0700`` whatever the umask; existing ancestors are not changed.

    Raises:
        UnsafeCacheError: ``path`` is a symbolic link or not a folder, belongs to another user, is writable by
            others, or sits in a folder another user could swap it in (its parent is someone else's, or a folder
            above it is writable by every user without the sticky bit).
        OSError: the folder cannot be created.
    """
    path = Path(path)
    _check_ancestors(path, what)
    make_private_dirs(path.parent)
    _check_parent(path, what)
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, PRIVATE_DIR_MODE)
        os.chmod(path, PRIVATE_DIR_MODE, **_NOFOLLOW_KW)
    st = os.lstat(path)
    if _check(st, path, what=what, is_dir=True):
        os.chmod(path, PRIVATE_DIR_MODE)
        _tighten_warning(path, stat.S_IMODE(st.st_mode), PRIVATE_DIR_MODE, what)
    return path


def check_private_dir(path: Path, *, what: str = "cache folder") -> None:
    """Like :func:`ensure_private_dir` for a folder that may not exist yet: nothing is created.

    Raises:
        UnsafeCacheError: ``path`` exists and is not private to us, or a folder above it could be swapped by
            another user (see :func:`ensure_private_dir`).
    """
    path = Path(path)
    _check_ancestors(path, what)
    if not os.path.lexists(path):
        return
    _check_parent(path, what)
    st = os.lstat(path)
    if _check(st, path, what=what, is_dir=True):
        os.chmod(path, PRIVATE_DIR_MODE)
        _tighten_warning(path, stat.S_IMODE(st.st_mode), PRIVATE_DIR_MODE, what)


def ensure_private_subdirs(folder: Path, *, root: Path, what: str = "cache folder") -> Path:
    """Check ``root`` as :func:`ensure_private_dir` does, then create ``folder`` (inside it) and its parents ``0700``.

    Every folder between ``root`` and ``folder`` must be a real folder of ours (never a symbolic link).

    Raises:
        UnsafeCacheError: ``root`` is not private, or a folder below it is a link, not a folder, someone else's
            or writable by others. ValueError: ``folder`` is not inside ``root``.
    """
    root, folder = Path(root), Path(folder)
    relative = folder.relative_to(root)
    ensure_private_dir(root, what=what)
    current = root
    for part in relative.parts:
        current = current / part
        try:
            os.mkdir(current, PRIVATE_DIR_MODE)
        except FileExistsError:
            pass
        else:
            os.chmod(current, PRIVATE_DIR_MODE, **_NOFOLLOW_KW)
        st = os.lstat(current)
        if _check(st, current, what=what, is_dir=True):
            os.chmod(current, PRIVATE_DIR_MODE, **_NOFOLLOW_KW)
            _tighten_warning(current, stat.S_IMODE(st.st_mode), PRIVATE_DIR_MODE, what)
    return folder


def check_inside(path: Path, *, root: Path, what: str = "cache folder") -> None:
    """Before ``path`` is deleted or written: every folder from ``root`` down to its parent is a real folder (no
    symbolic link), and the parent's real path is inside ``root``'s real path.

    ``path`` itself may be anything (a link is then removed, never followed).

    Raises:
        UnsafeCacheError: a folder on the way is a link or not a folder, or the path leads outside ``root``.
    """
    root, path = Path(os.path.abspath(root)), Path(os.path.abspath(path))
    try:
        relative = path.relative_to(root)
    except ValueError:
        raise _refuse(path, f"is not inside the cache {root}", what) from None
    if ".." in relative.parts or not relative.parts:
        raise _refuse(path, f"is not inside the cache {root}", what)
    current = root
    for part in relative.parts[:-1]:
        current = current / part
        try:
            st = os.lstat(current)
        except FileNotFoundError:
            return  # nothing below can exist
        if not stat.S_ISDIR(st.st_mode):
            raise _refuse(
                current,
                f"is {_kind(st)}, so {path} could lead outside the cache",
                what,
                f"Remove {current} if you did not create it; nothing outside the cache was touched.",
            )
    real_root = os.path.realpath(root)
    real_parent = os.path.realpath(path.parent)
    if os.path.commonpath([real_root, real_parent]) != real_root:
        raise _refuse(path, f"leads outside the cache {root} (to {real_parent})", what)


def _refuse_non_regular(path: Path | str, st: os.stat_result, what: str) -> UnsafeCacheError:
    return _refuse(
        path,
        f"is {_kind(st)}, not a regular file",
        what,
        f"Remove {path} if you did not create it; the client never reads or writes through it.",
    )


def open_regular(path: Path | str, flags: int = os.O_RDONLY, *, what: str, dir_fd: int | None = None) -> int:
    """Open an *existing* file only when it is a regular file: never through a symbolic link (``O_NOFOLLOW``),
    never blocking on a FIFO or a device (``O_NONBLOCK``, then ``fstat``). Returns the descriptor.

    Raises:
        FileNotFoundError: there is no such file.
        UnsafeCacheError: it is a symbolic link, a FIFO, a device, a socket or a folder.
    """
    if flags & (os.O_CREAT | os.O_TRUNC):
        raise ValueError("open_regular opens existing files only, without truncating them")
    try:
        fd = os.open(path, flags | _O_NOFOLLOW | _O_NONBLOCK | _O_CLOEXEC, dir_fd=dir_fd)
    except FileNotFoundError:
        raise
    except OSError as exc:
        try:
            st = os.lstat(path, dir_fd=dir_fd)
        except OSError:
            raise exc from None
        if not stat.S_ISREG(st.st_mode):
            raise _refuse_non_regular(path, st, what) from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _refuse_non_regular(path, st, what)
        if _O_NONBLOCK:
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_regular(path: Path | str, *, what: str, dir_fd: int | None = None) -> bytes:
    """The bytes of a regular file, opened as :func:`open_regular` does.

    Raises:
        FileNotFoundError, UnsafeCacheError: see :func:`open_regular`. OSError: it cannot be read.
    """
    fd = open_regular(path, what=what, dir_fd=dir_fd)
    with os.fdopen(fd, "rb") as handle:
        return handle.read()


class CacheLockTimeout(PolarisError, TimeoutError):
    """Another process held a cache lock longer than the time allowed."""

    default_hint = "Another polaris process is downloading or logging in; wait for it, or stop it and try again."


def _open_lock_file(path: Path, what: str) -> int:
    """The lock file's descriptor: created ``0600`` when missing; an existing one is used only when it is a regular
    file of ours, opened without following a link and never truncated or chmod-ed."""
    uid = current_uid()
    flags = os.O_RDWR | _O_NOFOLLOW | _O_NONBLOCK | _O_CLOEXEC
    for _ in range(8):  # bounded: the file may be removed between our two opens
        try:
            fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
        except FileExistsError:
            try:
                fd = open_regular(path, os.O_RDWR, what=what)
            except FileNotFoundError:
                continue
            try:
                st = os.fstat(fd)
                if uid is not None and st.st_uid != uid:
                    raise _refuse(path, f"belongs to another user (uid {st.st_uid})", what, _owner_hint(path, what))
            except BaseException:
                os.close(fd)
                raise
            return fd
        try:
            if hasattr(os, "fchmod"):
                os.fchmod(fd, PRIVATE_FILE_MODE)  # ours, just made: exactly 0600 whatever the umask
            if _O_NONBLOCK:
                os.set_blocking(fd, True)
        except BaseException:
            os.close(fd)
            raise
        return fd
    raise _refuse(path, "keeps disappearing while it is opened", what)


@contextlib.contextmanager
def file_lock(path: Path, *, timeout: float, what: str = "cache lock file") -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (between processes and between threads: one open file each time).

    The lock file is never followed through a link, never truncated and never chmod-ed unless this call created it
    (``flock`` on POSIX; on other systems ``filelock``, whose floor version refuses links).

    Raises:
        CacheLockTimeout: another holder kept it longer than ``timeout`` seconds.
        UnsafeCacheError: the lock path is a link, a FIFO, a device, a folder or another user's file.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        from filelock import FileLock, Timeout

        try:
            with FileLock(str(path), timeout=timeout, thread_local=False, mode=PRIVATE_FILE_MODE):
                yield
        except Timeout:
            raise CacheLockTimeout(f"Timed out after {timeout:g} s waiting for the lock {path}") from None
        return
    import time

    fd = _open_lock_file(Path(path), what)
    try:
        deadline = time.monotonic() + timeout
        pause = 0.005
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise CacheLockTimeout(f"Timed out after {timeout:g} s waiting for the lock {path}") from None
                time.sleep(min(pause, left))
                pause = min(pause * 2, 0.05)  # as often as filelock polls
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


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
                raise _refuse(path, "is a symbolic link", what, _owner_hint(path, what)) from None
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
