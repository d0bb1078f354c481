"""Configuration refuses what cannot work in production."""

from __future__ import annotations

import pytest

from marketplace import create_app
from tests.conftest import TEST_MASTER_KEY


def test_production_refuses_sqlite(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MARKETPLACE_INSTANCE_PATH", str(tmp_path / "instance"))
    with pytest.raises(RuntimeError, match="must name a PostgreSQL database in production"):
        create_app({"ENV": "production", "SECRET_KEY": "x" * 40, "MASTER_KEY": TEST_MASTER_KEY,
                    "OIDC_ISSUER": "https://broker.example", "OIDC_CLIENT_ID": "marketplace",
                    "OIDC_CLIENT_SECRET": "broker-secret",
                    "DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}",
                    "DATA_DIR": tmp_path / "data"})


def test_operations_settings_have_safe_defaults(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MARKETPLACE_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("MARKETPLACE_LOG_FORMAT", "json")
    app = create_app({"SECRET_KEY": "k", "MASTER_KEY": TEST_MASTER_KEY,
                      "DATABASE_URL": f"sqlite:///{tmp_path / 'd.db'}",
                      "DATA_DIR": tmp_path / "data"})
    assert app.config["METRICS_TOKEN"] is None  # /metrics stays on loopback until one is set
    assert app.config["LOG_FORMAT"] == "json"
