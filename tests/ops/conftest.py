"""Processes started as an operator would: the environment of a real, migrated installation."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest

from marketplace import schema
from tests.conftest import TEST_MASTER_KEY

REPOSITORY = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def installation(tmp_path: Path) -> dict[str, str]:
    """Environment variables of a migrated SQLite installation in tmp_path."""
    url = f"sqlite:///{tmp_path / 'marketplace.db'}"
    schema.upgrade(url)
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("MARKETPLACE_")},
        "PYTHONPATH": str(REPOSITORY),
        "MARKETPLACE_INSTANCE_PATH": str(tmp_path / "instance"),
        "MARKETPLACE_DATABASE_URL": url,
        "MARKETPLACE_DATA_DIR": str(tmp_path / "data"),
        "MARKETPLACE_SECRET_KEY": "server-test-secret-key",
        "MARKETPLACE_MASTER_KEY": TEST_MASTER_KEY,
        "MARKETPLACE_OIDC_ISSUER": "http://127.0.0.1:9",
    }


MARKETPLACE = [sys.executable, "-m", "marketplace"]
