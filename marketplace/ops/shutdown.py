"""A graceful stop for long-running loops (the job worker): SIGTERM asks, the loop decides.

The handler only sets a flag; the loop checks `stop_requested()` between jobs and sleeps with
`wait()`, which returns at once when the stop comes. A job under way is finished (its lease
stays valid while it runs), so nothing is left half-written and the process exits 0.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType
from typing import Any

import click

log = logging.getLogger(__name__)

_stop = threading.Event()


def _request_stop(signum: int, _frame: FrameType | None) -> None:
    if not _stop.is_set():
        log.info("stop requested by %s: finishing the current job, then exiting",
                 signal.Signals(signum).name)
    _stop.set()


def install_stop_handlers() -> None:
    """Turn SIGTERM and SIGINT into a stop request (call from the main thread).

    Inside a click command the previous handlers come back when the command ends, so a
    process that runs the loop in passing (a test, an embedding) keeps its own handling.
    """
    _stop.clear()
    previous = {signum: signal.signal(signum, _request_stop)
                for signum in (signal.SIGTERM, signal.SIGINT)}
    context = click.get_current_context(silent=True)
    if context is not None:
        context.call_on_close(lambda: _restore(previous))
    log.info("waiting for jobs; SIGTERM finishes the current job, then stops")


def _restore(previous: dict[signal.Signals, Any]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)


def stop_requested() -> bool:
    return _stop.is_set()


def request_stop() -> None:
    """Ask the loop to stop, as SIGTERM would (for embedding and tests)."""
    _stop.set()


def wait(seconds: float) -> bool:
    """Sleep up to `seconds`; return True at once when a stop was requested."""
    return _stop.wait(seconds)
