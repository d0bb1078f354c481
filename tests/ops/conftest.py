"""Processes started as an operator would: the environment of a real, migrated installation."""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import BACKENDS, TEST_MASTER_KEY, fresh_postgres, installation_url

REPOSITORY = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(params=BACKENDS)
def installation(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Environment variables of a migrated installation in tmp_path, on SQLite and on the test
    PostgreSQL database (emptied before and after)."""
    url = installation_url(request.param, tmp_path)
    yield {
        **{k: v for k, v in os.environ.items() if not k.startswith("MARKETPLACE_")},
        "PYTHONPATH": str(REPOSITORY),
        "MARKETPLACE_INSTANCE_PATH": str(tmp_path / "instance"),
        "MARKETPLACE_DATABASE_URL": url,
        "MARKETPLACE_DATA_DIR": str(tmp_path / "data"),
        "MARKETPLACE_SECRET_KEY": "server-test-secret-key",
        "MARKETPLACE_MASTER_KEY": TEST_MASTER_KEY,
        "MARKETPLACE_OIDC_ISSUER": "http://127.0.0.1:9",
    }
    if request.param == "postgresql":
        fresh_postgres(url)


MARKETPLACE = [sys.executable, "-m", "marketplace"]
