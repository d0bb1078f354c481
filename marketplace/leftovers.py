"""Files that a killed process left half-made: finding them without touching live work.

Stored files are written to a `.part` file named with the writer's process id and renamed when
complete; the database row that points at a file is committed after that. A process that dies
in between leaves a `.part` file or a complete file that no row points at. Both are removed
once their writer is gone (its process no longer runs) or, for a writer on another machine
sharing the folder, once they are older than the grace period.
"""
from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from pathlib import Path

GRACE_SECONDS = 3600.0
# `.<name>.<pid>.<random>.part` (Keyring.write_encrypted) and `v<n>-<pid>-<random>.…`.
_PART = re.compile(r"\.(\d+)\.[0-9a-f]+\.part$")
_NAMED = re.compile(r"^v\d+-(\d+)-[0-9a-f]+\.")


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
