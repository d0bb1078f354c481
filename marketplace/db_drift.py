"""Compare the migrated schema with the models: `python -m marketplace.db_drift [URL]`.

Prints every difference and exits non-zero when the migrations and models disagree, so a model
change without its migration cannot land.
"""

from __future__ import annotations

import importlib
import sys
import tempfile
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from marketplace import DOMAINS, schema
from marketplace.db import Base, create_engine_for


def schema_differences(connection: sa.Connection) -> list[Any]:
    importlib.import_module("marketplace.audit")
    for domain in DOMAINS:
        importlib.import_module(f"marketplace.{domain}.models")
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, Base.metadata)


def migrate(url: str) -> sa.Engine:
    engine = create_engine_for(url)
    with engine.begin() as connection:
        schema.upgrade(url, connection=connection)
    return engine


def main() -> int:
    url = sys.argv[1] if len(sys.argv) > 1 else None
    with tempfile.TemporaryDirectory() as tmp:
        url = url or f"sqlite:///{Path(tmp) / 'drift.db'}"
        engine = migrate(url)
        with engine.connect() as connection:
            differences = schema_differences(connection)
        engine.dispose()
    for difference in differences:
        print(difference)
    print(f"{len(differences)} difference(s) between migrations and models")
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
