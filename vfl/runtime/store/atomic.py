"""Atomic writes: one file (temp file in the same folder, fsync, rename) or a set of files (a
staging folder beside the target, renamed over it at the end). A crash or an error leaves the old
file or set, or the new one, never half of one.

Permissions come from the umask, as for any file a program creates: :data:`PUBLIC` files get
0o666 & ~umask (0644 under the usual 022); :data:`PRIVATE` files (patient IDs) never have the
world bits, whatever the umask (0640 under 022, 0600 under 077).
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from vfl.core.errors import ConfigError

__all__ = [
    "PRIVATE",
    "PUBLIC",
    "DiskFullError",
    "atomic_folder",
    "write_atomic",
    "write_bytes_atomic",
    "write_json_atomic",
]

PUBLIC = 0o666
PRIVATE = 0o660
_OPEN_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
#: a full disk, a full quota, a file-size limit, a read-only disk: the party's machine, not vfl
_NO_ROOM = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS}


class DiskFullError(ConfigError):
    """A write found no room (disk, quota, file-size limit) or a read-only disk. Says what could
    not be written, where, and that the previous file or set there is untouched."""


def _no_room(exc: BaseException, what: Path, kept: str) -> DiskFullError | None:
    if not isinstance(exc, OSError) or exc.errno not in _NO_ROOM:
        return None
    return DiskFullError(
        f"cannot write {what}: {exc.strerror or exc}",
        f"free space on the disk holding {what.parent} (or write elsewhere) and run again; {kept}",
    )


def _fsync_dir(d: Path) -> None:
    fd = os.open(d, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fresh(parent: Path, prefix: str, suffix: str, make: Callable[[Path], Any]) -> tuple[Path, Any]:
    """Create a new entry with an unguessable name; the kernel applies the umask to its mode."""
    for _ in range(100):
        p = parent / f"{prefix}{secrets.token_hex(6)}{suffix}"
        try:
            return p, make(p)
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name in {parent}")


def write_atomic(path: str | Path, write: Callable[[IO[bytes]], object], mode: int = PUBLIC) -> Path:
    """Write ``path`` through ``write(file)`` (e.g. ``fig.savefig(f, format="png")``), atomically."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp, fd = _fresh(p.parent, f".{p.name}.", ".tmp", lambda t: os.open(t, _OPEN_FLAGS, mode))
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
        _fsync_dir(p.parent)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        full = _no_room(exc, p, f"the previous {p.name}, if any, is untouched")
        if full is not None:
            raise full from exc
        raise
    return p


def write_bytes_atomic(path: str | Path, data: bytes, mode: int = PUBLIC) -> Path:
    return write_atomic(path, lambda f: f.write(data), mode)


def write_json_atomic(path: str | Path, obj: Any, mode: int = PUBLIC, *, allow_nan: bool = True) -> Path:
    """``allow_nan=False`` refuses NaN and infinities (strict JSON: a model file) before writing."""
    text = json.dumps(obj, indent=2, sort_keys=False, allow_nan=allow_nan) + "\n"
    return write_bytes_atomic(path, text.encode(), mode)


@contextmanager
def atomic_folder(target: str | Path) -> Iterator[Path]:
    """Yield an empty staging folder beside ``target``; when the block succeeds, its files replace
    ``target`` as one set (files of the old folder that the new set does not name are kept). When
    the block raises, the staging folder is removed and ``target`` is untouched."""
    target = Path(target)
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    staging, _ = _fresh(parent, f".{target.name}.new-", "", lambda d: os.mkdir(d, 0o777))
    try:
        try:
            yield staging
        except DiskFullError as exc:  # name the set, not the staging file it was writing
            raise _no_room(exc.__cause__ or exc, target, _kept(target)) or exc from exc
        _fsync_dir(staging)
        if target.is_dir():
            _carry_over(target, staging)
            old, _ = _fresh(parent, f".{target.name}.old-", "", _unused)
            os.rename(target, old)
            try:
                os.rename(staging, target)
            except BaseException:
                os.rename(old, target)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(staging, target)
        _fsync_dir(parent)
    except OSError as exc:
        full = _no_room(exc, target, _kept(target))
        if full is not None:
            raise full from exc
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone already after a successful rename


def _kept(target: Path) -> str:
    return "the previous outputs there are untouched" if target.is_dir() else "nothing was written there"


def _unused(p: Path) -> None:
    if p.exists() or p.is_symlink():
        raise FileExistsError(p)


def _carry_over(old: Path, new: Path) -> None:
    """Hard-link (or copy) into ``new`` what ``old`` holds and ``new`` does not, so the swap keeps
    another writer's files (checkpoints, a model next to predictions) while ``old`` stays whole
    until the rename."""
    for entry in old.iterdir():
        dest = new / entry.name
        if dest.exists() or dest.is_symlink():
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.copytree(entry, dest, symlinks=True, copy_function=_link_or_copy)
        else:
            _link_or_copy(entry, dest)


def _link_or_copy(src: str | Path, dst: str | Path) -> None:
    try:
        os.link(src, dst, follow_symlinks=False)
    except OSError:
        shutil.copy2(src, dst, follow_symlinks=False)
