"""The production server's settings: `marketplace serve`, or

    gunicorn --config python:marketplace.ops.gunicorn_config

Sized for a small machine and overridable through the environment:
- `gthread` workers: one process per core (Python runs one thread at a time per process) and
  MARKETPLACE_WEB_THREADS threads each (default 4), so requests that wait on the database or on
  a client overlap. More threads do not serve more: a request's work is mostly Python, and
  threads sharing one interpreter stretch every request they hold (under load, with 8 threads the
  slowest 1% of access applications took about 40% longer than with 4). A site with many slow
  uploads or downloads at once raises it.
- A kept-alive connection stays with the process that accepted it, so one process could hold
  most of them and answer slowly while another idles. A process holding more than
  MARKETPLACE_WEB_CONNECTIONS connections (default: four times its threads) closes each one
  after its answer until it holds no more; the client connects again, to whichever process
  accepts first. Connections are never refused: beyond the processes' bounds together, they
  are simply not kept alive.
- A gthread worker's main loop keeps signalling the arbiter while its threads serve requests,
  so `timeout` only catches a process that is truly stuck: a 2 GiB upload that streams for
  minutes is not killed (tests/ops/test_server.py sends a request slower than the timeout).
- The app writes one JSON line per request with its id, so gunicorn's own access log is off;
  gunicorn's messages are JSON lines too.
- Request metrics use prometheus-client's multiprocess mode: PROMETHEUS_MULTIPROC_DIR is set
  here, before any worker imports the client, and a dead worker's live gauges are dropped.
"""

from __future__ import annotations

import gc
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from gunicorn.glogging import Logger


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


_cores = os.cpu_count() or 1

wsgi_app = "marketplace:create_app()"
# The app is built once in the arbiter: a bad configuration stops start-up with its message,
# workers fork ready in milliseconds (so `timeout` never races a slow import) and share the
# loaded code. Database connections are never shared: see post_fork.
preload_app = True
bind = os.environ.get("MARKETPLACE_WEB_BIND", "127.0.0.1:8000")
worker_class = "gthread"
workers = _env_int("MARKETPLACE_WEB_WORKERS", _cores)
threads = _env_int("MARKETPLACE_WEB_THREADS", 4)
# Seconds without a heartbeat before a worker is restarted (not a limit on a request).
timeout = _env_int("MARKETPLACE_WEB_TIMEOUT", 60)
# On SIGTERM, requests under way get this long to finish (an upload on a slow line needs it).
graceful_timeout = _env_int("MARKETPLACE_WEB_GRACEFUL_TIMEOUT", 120)
keepalive = 5
# 0: four times the worker's threads (read when the worker runs: `--threads` may set them).
KEPT_CONNECTIONS = _env_int("MARKETPLACE_WEB_CONNECTIONS", 0)
# Seconds a worker thread runs before another may take the interpreter (Python's default: 0.005).
SWITCH_INTERVAL = float(os.environ.get("MARKETPLACE_WEB_SWITCH_INTERVAL", "0.001"))
# Heartbeat files in memory: a slow or full /tmp must not look like a stuck worker.
_SHM = "/dev/shm"  # noqa: S108 (gunicorn creates its files there with mkstemp)
if os.path.isdir(_SHM):
    worker_tmp_dir = _SHM
# A reverse proxy in front terminates TLS; only trust its forwarded headers from loopback.
forwarded_allow_ips = os.environ.get("MARKETPLACE_WEB_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
accesslog = None


class _WithoutAccessLog(Logger):
    """gunicorn's logger, minus its access log: with a logging configuration given, gunicorn
    would gather every request's atoms for a logger that writes them nowhere."""

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        return None


logger_class = _WithoutAccessLog
# The control socket would live in $HOME, shared by every gunicorn of the user; not needed.
control_socket_disable = True
errorlog = "-"
loglevel = "info"

_JSON = {"()": "pythonjsonlogger.json.JsonFormatter",
         "fmt": ["levelname", "name", "message"], "timestamp": "time",
         "rename_fields": {"levelname": "level", "name": "logger"}}
logconfig_dict: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    # The app adds its own JSON handler to the root logger in each worker.
    "root": {"level": "WARNING", "handlers": []},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": [], "propagate": False},
    },
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json",
                            "stream": "ext://sys.stderr"}},
    "formatters": {"json": _JSON},
}

_own_metrics_dir = "PROMETHEUS_MULTIPROC_DIR" not in os.environ
if _own_metrics_dir:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="marketplace-metrics-")


def on_starting(_server: Any) -> None:
    # Samples of an earlier run would be added to this run's.
    for stale in Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).glob("*.db"):
        stale.unlink()


def when_ready(server: Any) -> None:
    # Before any worker is forked: decode the published data versions once, so every worker
    # shares them and the first applications after a start do not each decrypt them.
    from marketplace.composition import warm_caches

    app = server.app.wsgi()
    try:
        decoded = warm_caches(app)
    except Exception:  # a cold cache is slower, never wrong: serve anyway
        server.log.exception("warming the caches failed")
    else:
        server.log.info("decoded %d data versions before starting workers", decoded)
    app.extensions["marketplace.engine"].dispose()
    # What is loaded now (code, the app, the decoded versions) lives as long as the process:
    # frozen, the collector never walks it again, so a full collection in a worker takes
    # milliseconds instead of stalling every thread of the worker for a quarter of a second,
    # and the pages the workers share by forking are not copied by the collector's writes.
    gc.collect()
    gc.freeze()


def post_fork(server: Any, _worker: Any) -> None:
    # A pooled connection opened before the fork would be shared by every worker.
    app = server.app.wsgi()
    engine = app.extensions.get("marketplace.engine")
    if engine is not None:
        engine.dispose(close=False)
    # A thread back from the database waits for the interpreter lock until the running thread
    # yields it, by default after 5 ms; a request makes about ten round trips, so waiting
    # less keeps the latency of many concurrent requests down.
    sys.setswitchinterval(SWITCH_INTERVAL)


def pre_request(worker: Any, request: Any) -> None:
    bound = KEPT_CONNECTIONS or 4 * worker.cfg.threads
    if worker.nr_conns > bound:
        request.must_close = True  # answered with "Connection: close"


def child_exit(_server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(_server: Any) -> None:
    if _own_metrics_dir:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
