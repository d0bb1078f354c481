"""The analysis environment: which venv jobs run in, what it holds, and the limits of a job.

The venv is built by `make analysis-env` from `analysis-requirements.txt` (exact pins); its
Python version and package versions are read from the venv itself, so the workspace shows what
really runs. Pure of Flask: the edge passes its configuration in.
"""
from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from marketplace.workspace.sandbox import Limits

REPOSITORY = Path(__file__).resolve().parents[2]
DEFAULT_PYTHON = REPOSITORY / ".analysis-venv" / "bin" / "python"
REQUIREMENTS = Path(__file__).resolve().parent / "analysis-requirements.txt"
# Job N runs as host user SANDBOX_UID_BASE + N % SANDBOX_UIDS when the worker is root.
SANDBOX_UID_BASE = 200_000
SANDBOX_UIDS = 100_000


@dataclass(frozen=True)
class AnalysisEnvironment:
    root: Path
    python: str
    packages: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"python": self.python, "packages": dict(self.packages)}


def environment_root(config: Mapping[str, Any]) -> Path:
    """The venv folder of the analysis Python (MARKETPLACE_ANALYSIS_PYTHON, or .analysis-venv)."""
    python = Path(config.get("ANALYSIS_PYTHON") or DEFAULT_PYTHON)
    return python.parent.parent


def describe(root: Path) -> AnalysisEnvironment:
    """The Python version and exact package versions installed in the venv at `root`."""
    marker = root / "pyvenv.cfg"
    stamp = marker.stat().st_mtime if marker.exists() else 0.0
    site = next(iter(sorted(root.glob("lib/python*/site-packages"))), None)
    stamp = max(stamp, site.stat().st_mtime if site else 0.0)
    return _describe(root, stamp)


@lru_cache(maxsize=8)
def _describe(root: Path, _stamp: float) -> AnalysisEnvironment:
    python = ""
    marker = root / "pyvenv.cfg"
    if marker.exists():
        for line in marker.read_text().splitlines():
            key, _, value = line.partition("=")
            if key.strip() in ("version", "version_info"):
                python = value.strip()
    packages: dict[str, str] = {}
    for site in root.glob("lib/python*/site-packages"):
        for info in site.glob("*.dist-info"):
            metadata = info / "METADATA"
            if not metadata.exists():
                continue
            name = version = ""
            for line in metadata.read_text(errors="replace").splitlines()[:20]:
                if line.startswith("Name: "):
                    name = line[6:].strip()
                elif line.startswith("Version: "):
                    version = line[9:].strip()
            if name and name.lower() not in ("pip", "setuptools"):
                packages[re.sub(r"[-_.]+", "-", name).lower()] = version
    return AnalysisEnvironment(root=root, python=python, packages=dict(sorted(packages.items())))


def published_requirements() -> str:
    """The pinned package list a company installs to reproduce the environment."""
    return REQUIREMENTS.read_text()


def readable_by_others(path: Path) -> bool:
    """Whether an unprivileged sandbox user can reach `path` (every folder above it o+x)."""
    path = path.resolve()
    for folder in [path, *path.parents]:
        mode = folder.stat().st_mode
        if not mode & stat.S_IXOTH:
            return False
    return True


def limits_from(config: Mapping[str, Any]) -> Limits:
    """The job limits, from WORKSPACE_* settings over the defaults."""
    defaults = Limits()
    return Limits(
        cpu_seconds=int(config.get("WORKSPACE_CPU_SECONDS", defaults.cpu_seconds)),
        memory_mb=int(config.get("WORKSPACE_MEMORY_MB", defaults.memory_mb)),
        wall_seconds=int(config.get("WORKSPACE_WALL_SECONDS", defaults.wall_seconds)),
        processes=int(config.get("WORKSPACE_PROCESSES", defaults.processes)),
        file_mb=int(config.get("WORKSPACE_FILE_MB", defaults.file_mb)),
        output_mb=int(config.get("WORKSPACE_OUTPUT_MB", defaults.output_mb)),
        output_files=int(config.get("WORKSPACE_OUTPUT_FILES", defaults.output_files)),
        tmp_mb=int(config.get("WORKSPACE_TMP_MB", defaults.tmp_mb)),
    )


def sandbox_uid(job_id: int, config: Mapping[str, Any]) -> int | None:
    """The host user a job's sandbox runs as: its own when the worker is root, else none."""
    if os.geteuid() != 0:
        return None
    base = int(config.get("WORKSPACE_SANDBOX_UID_BASE", SANDBOX_UID_BASE))
    return base + job_id % SANDBOX_UIDS
