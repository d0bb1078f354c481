"""Files that a killed process left half-made: finding them without touching live work.

Stored files are written to a `.part` file named with the writer's process id and renamed when
complete; the database row that points at a file is committed after that. A process that dies
in between leaves a `.part` file or a complete file that no row points at. Both are removed
once their writer is gone (its process no longer runs) or, for a writer on another machine
sharing the folder, once they are older than the grace period.

Scratch folders (a workspace job's prepared data, script and outputs) are held instead: their
process locks `<folder>.lock` beside the folder before creating it and until after removing it.
The kernel releases the lock when the process dies, however it dies, so a folder whose lock can
be taken is a dead process's leftover.
"""
from __future__ import annotations

import fcntl
import os
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

GRACE_SECONDS = 3600.0
# `.<name>.<pid>.<random>.part` (Keyring.write_encrypted) and `v<n>-<pid>-<random>.…`.
_PART = re.compile(r"\.(\d+)\.[0-9a-f]+\.part$")
_NAMED = re.compile(r"^v\d+-(\d+)-[0-9a-f]+\.")


def part_path(path: Path) -> Path:
    """A name next to `path` that only this process writes (and that the sweep below knows as
    half-made): a file is written there, then renamed to `path` when it may be kept."""
    return path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.part")


def process_running(pid: int) -> bool:
    """Whether a process with this id runs on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it runs as another user
    return True


def writer_of(path: Path) -> int | None:
    """The process id a stored file's name carries, if any."""
    found = _PART.search(path.name) or _NAMED.match(path.name)
    return int(found.group(1)) if found else None


def abandoned(path: Path, *, grace_seconds: float = GRACE_SECONDS) -> bool:
    """Whether an unreferenced file's writer is gone (dead process or past the grace period)."""
    pid = writer_of(path)
    if pid is not None and pid != os.getpid() and not process_running(pid):
        return True
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return False
    return age > grace_seconds


def remove_unreferenced(folder: Path, *, referenced: Callable[[Path], bool],
                        grace_seconds: float = GRACE_SECONDS) -> list[Path]:
    """Remove the files under `folder` that nothing references and whose writer is gone."""
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        partial = path.name.endswith(".part")
        if (partial or not referenced(path)) and abandoned(path, grace_seconds=grace_seconds):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def remove_tree(folder: Path) -> None:
    """Remove a folder, whatever its contents (a sandbox may have changed their modes)."""
    def writable(function: Any, path: str, _error: Any) -> None:
        os.chmod(path, 0o700)
        function(path)

    if folder.exists():
        shutil.rmtree(folder, onerror=writable)


def _lock_of(folder: Path) -> Path:
    return folder.with_name(f"{folder.name}.lock")


def hold_folder(folder: Path) -> int:
    """Lock `folder` (before it exists) for this process; return the handle to release."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    handle = os.open(_lock_of(folder), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(handle, fcntl.LOCK_EX)
    return handle


def release_folder(folder: Path, handle: int) -> None:
    """Remove a held folder and its lock, then let go of the lock."""
    try:
        remove_tree(folder)
        _lock_of(folder).unlink(missing_ok=True)
    finally:
        os.close(handle)


def remove_unheld_folders(root: Path, pattern: str) -> list[Path]:
    """Remove the folders under `root` matching `pattern` that no live process holds (and
    their locks); a folder still held belongs to a running process, which removes it itself."""
    removed: list[Path] = []
    if not root.is_dir():
        return removed
    for folder in sorted(root.glob(pattern)):
        if not folder.is_dir() or folder.is_symlink():
            continue
        handle = os.open(_lock_of(folder), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(handle)
            continue  # a live process works in it
        release_folder(folder, handle)
        removed.append(folder)
    return removed
