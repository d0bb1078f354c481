"""Readiness: can this process serve requests now? Each check names what it tried.

A check returns None when it passes and a short reason (no paths, no secrets) when it fails.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.security import Keyring

Check = Callable[[], str | None]


def check_database(session: Session, *, expected: frozenset[str]) -> str | None:
    """The database answers and its schema is at the revisions this code expects."""
    try:
        session.execute(sa.text("SELECT 1"))
        versions = set(session.scalars(sa.text("SELECT version_num FROM alembic_version")))
    except sa.exc.SQLAlchemyError as error:
        session.rollback()
        return f"the database cannot be queried ({type(error).__name__})"
    if not versions:
        return "the database has no schema yet: run `marketplace db upgrade`"
    if versions != expected:
        # New code on an old schema (or the reverse) would fail on its first query.
        return (f"the schema is at {', '.join(sorted(versions))}, the code expects "
                f"{', '.join(sorted(expected))}: run `marketplace db upgrade`")
    return None


def check_data_dir(data_dir: Path) -> str | None:
    """The data folder exists and a file can be written, read back and removed there."""
    try:
        with tempfile.NamedTemporaryFile(dir=data_dir, prefix=".ready-", delete=True) as probe:
            probe.write(b"ready")
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as error:
        return f"the data folder is not writable ({error.strerror or type(error).__name__})"
    return None


def check_keys(keyring: Keyring) -> str | None:
    """The master key seals and opens a value, and the manifest key signs and verifies."""
    try:
        if keyring.open(keyring.seal(b"ready", context="readyz"), context="readyz") != b"ready":
            return "the sealing key does not round-trip"
        signature = keyring.signing_key.sign(b"ready")
        keyring.signing_key.public_key().verify(signature, b"ready")
    except Exception as error:  # any failure here means the keys are unusable
        return f"the keys are not usable ({type(error).__name__})"
    return None


def run_checks(checks: dict[str, Check]) -> tuple[bool, dict[str, dict[str, object]]]:
    """Run every check (never stopping at the first failure); return ready and each outcome."""
    results: dict[str, dict[str, object]] = {}
    for name, check in checks.items():
        reason = check()
        results[name] = {"ok": True} if reason is None else {"ok": False, "error": reason}
    return all(result["ok"] for result in results.values()), results
