"""The production server's settings: sized from the machine, overridable from the environment."""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from types import ModuleType

import pytest


@pytest.fixture
def load_config(monkeypatch: pytest.MonkeyPatch) -> Callable[[], ModuleType]:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "/nonexistent-for-this-test")
    for name in ("MARKETPLACE_WEB_WORKERS", "MARKETPLACE_WEB_THREADS", "MARKETPLACE_WEB_TIMEOUT",
                 "MARKETPLACE_WEB_BIND", "MARKETPLACE_WEB_CONNECTIONS"):
        monkeypatch.delenv(name, raising=False)

    def load() -> ModuleType:
        from marketplace.ops import gunicorn_config

        return importlib.reload(gunicorn_config)

    return load


def test_defaults_fit_the_machine(load_config) -> None:
    config = load_config()
    assert config.worker_class == "gthread"
    assert config.workers == (os.cpu_count() or 1)
    assert config.threads == 4
    assert config.preload_app is True
    assert config.bind == "127.0.0.1:8000"
    # The worker timeout restarts a stuck process; requests get far longer on shutdown.
    assert config.timeout == 60 and config.graceful_timeout >= 120
    assert config.accesslog is None  # the app writes its own request lines
    assert config.control_socket_disable is True


def test_gunicorn_gathers_nothing_for_an_access_log(load_config) -> None:
    """The app writes each request's line; gunicorn's access log would cost every request
    the gathering of its fields even where nothing is written (any logging configuration
    turns it on)."""
    import logging

    from gunicorn.config import Config

    config = load_config()
    settings = Config()
    settings.set("accesslog", "-")  # on, as the logging configuration turns it on
    logger = config.logger_class(settings)
    try:
        assert logger.access_log_enabled

        def gathered(*_args: object) -> dict[str, str]:
            raise AssertionError("the access log's fields were gathered")

        logger.atoms = gathered
        logger.access(None, None, {}, None)
    finally:
        for name in ("gunicorn.access", "gunicorn.error"):
            logging.getLogger(name).handlers.clear()


def test_environment_overrides(load_config, monkeypatch) -> None:
    monkeypatch.setenv("MARKETPLACE_WEB_WORKERS", "3")
    monkeypatch.setenv("MARKETPLACE_WEB_THREADS", "16")
    monkeypatch.setenv("MARKETPLACE_WEB_BIND", "0.0.0.0:9000")
    config = load_config()
    assert (config.workers, config.threads, config.bind) == (3, 16, "0.0.0.0:9000")


def test_a_bad_number_stops_start_up(load_config, monkeypatch) -> None:
    monkeypatch.setenv("MARKETPLACE_WEB_WORKERS", "many")
    with pytest.raises(ValueError, match="many"):
        load_config()


def test_a_process_beyond_its_share_of_connections_lets_them_go(load_config, monkeypatch) -> None:
    from types import SimpleNamespace

    def closes(config, *, threads: int, connections: int) -> bool:
        request = SimpleNamespace(must_close=False)
        worker = SimpleNamespace(cfg=SimpleNamespace(threads=threads), nr_conns=connections)
        config.pre_request(worker, request)
        return request.must_close

    config = load_config()
    # Four times the threads it runs with (which `--threads` may have set), then no more.
    assert not closes(config, threads=4, connections=16)
    assert closes(config, threads=4, connections=17)
    assert not closes(config, threads=8, connections=32)
    monkeypatch.setenv("MARKETPLACE_WEB_CONNECTIONS", "3")
    config = load_config()
    assert (closes(config, threads=4, connections=3), closes(config, threads=4, connections=4)) \
        == (False, True)
