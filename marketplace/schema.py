"""Applying the Alembic migrations from code (CLI, tests, drift check)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str, connection: Any = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(url: str, *, revision: str = "head", connection: Any = None) -> None:
    """Migrate the database at `url` (or on an open `connection`) to `revision`."""
    command.upgrade(alembic_config(url, connection), revision)


@cache
def head_revisions() -> frozenset[str]:
    """The revisions the code expects the database to be at (read once per process)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return frozenset(ScriptDirectory.from_config(config).get_heads())
