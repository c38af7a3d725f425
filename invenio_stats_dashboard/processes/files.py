"""PID, status and log files in a possibly shared directory, written safely.

Every file is created under a fresh temporary name with ``O_CREAT | O_EXCL | O_NOFOLLOW``
(mode 0600) and renamed into place inside the same directory, relative to a directory
descriptor: a symlink planted under the final name is replaced, never followed, and
readers never see half-written files. Reads refuse symlinks (``O_NOFOLLOW``).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import stat
from pathlib import Path

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class UnsafeFileError(OSError):
    """A PID/status/log path is a symlink, not a regular file/directory, or someone else's."""


def check_name(name: str) -> str:
    """A process name usable in file names (lowercase letters, digits, ``-``, ``_``)."""
    if not NAME_PATTERN.match(name or ""):
        raise ValueError(
            f"invalid process name {name!r}: use lowercase letters, digits, '-' or '_'"
        )
    return name


def ensure_dir(path: str | os.PathLike) -> Path:
    """The directory (created 0700 if missing).

    Refuses a symlink, a non-directory, and a directory where other users could replace
    this user's files: one owned by someone else, or writable by others without the
    sticky bit (``/tmp``, sticky, is fine).
    """
    path = Path(path)
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except FileExistsError:
        pass
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise UnsafeFileError(f"{path} is not a directory")
    sticky = bool(info.st_mode & stat.S_ISVTX)
    shared = bool(info.st_mode & (stat.S_IWGRP | stat.S_IWOTH))
    if not sticky and (info.st_uid != os.geteuid() or shared):
        raise UnsafeFileError(
            f"{path} can be changed by other users (not yours, or group/world-writable "
            "without the sticky bit): use a directory of your own"
        )
    return path


def _open_dir(directory: Path) -> int:
    return os.open(directory, os.O_RDONLY | os.O_DIRECTORY)


def create_file(directory: Path, name: str) -> int:
    """Create ``directory/name`` afresh (atomic rename); returns a write descriptor."""
    dir_fd = _open_dir(directory)
    try:
        tmp = f".{name}.{secrets.token_hex(8)}.tmp"
        fd = os.open(
            tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=dir_fd
        )
        os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        return fd
    finally:
        os.close(dir_fd)


def write_json(directory: Path, name: str, data: dict) -> None:
    """Write ``data`` as JSON to ``directory/name``, atomically."""
    dir_fd = _open_dir(directory)
    try:
        tmp = f".{name}.{secrets.token_hex(8)}.tmp"
        fd = os.open(
            tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=dir_fd
        )
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, indent=1, sort_keys=True, default=str)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException:
            try:
                os.unlink(tmp, dir_fd=dir_fd)
            except FileNotFoundError:
                pass
            raise
    finally:
        os.close(dir_fd)


def _open_read(directory: Path, name: str) -> int | None:
    try:
        fd = os.open(directory / name, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return None
    except OSError as exc:  # ELOOP: a symlink
        raise UnsafeFileError(f"{directory / name} is not a regular file") from exc
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise UnsafeFileError(f"{directory / name} is not a regular file")
    if info.st_uid != os.geteuid():
        os.close(fd)
        raise UnsafeFileError(
            f"{directory / name} belongs to another user (uid {info.st_uid}); not trusted"
        )
    return fd


def read_text(directory: Path, name: str) -> str | None:
    """Content of a regular file (None if missing); refuses symlinks."""
    fd = _open_read(directory, name)
    if fd is None:
        return None
    with os.fdopen(fd, "r", encoding="utf-8", errors="replace") as handle:
        return handle.read()


def read_json(directory: Path, name: str) -> dict | None:
    """A JSON object from a file, or None when missing or not a JSON object."""
    text = read_text(directory, name)
    if text is None:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def tail(directory: Path, name: str, lines: int) -> list[str]:
    """The last ``lines`` lines of a file, read backwards in blocks (bounded memory)."""
    fd = _open_read(directory, name)
    if fd is None or lines <= 0:
        if fd is not None:
            os.close(fd)
        return []
    with os.fdopen(fd, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        position = handle.tell()
        data = b""
        while position > 0 and data.count(b"\n") <= lines:
            step = min(8192, position)
            position -= step
            handle.seek(position)
            data = handle.read(step) + data
    text = data.decode("utf-8", errors="replace").splitlines()
    return text[-lines:]


def remove(directory: Path, name: str) -> None:
    """Remove a file if present (a symlink is removed, not followed)."""
    try:
        os.unlink(directory / name)
    except FileNotFoundError:
        pass
