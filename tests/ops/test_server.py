"""`marketplace serve` runs gunicorn with the production configuration."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.ops.conftest import MARKETPLACE, free_port

pytestmark = pytest.mark.slow


def _get(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 (loopback only)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@contextmanager
def _serving(env: dict[str, str], *extra: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    process = subprocess.Popen([*MARKETPLACE, "serve", "--bind", f"127.0.0.1:{port}",
                                "--workers", "2", "--threads", "2", *extra],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if _get(f"{base}/healthz")[0] == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"server did not start: {process.communicate()[1]}")
            time.sleep(0.2)
        yield base, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_serve_answers_probes_and_stops_cleanly_on_sigterm(installation) -> None:
    # A short worker timeout: a request slower than it must still complete (see below).
    env = {**installation, "MARKETPLACE_WEB_TIMEOUT": "2"}
    with _serving(env) as (base, process):
        status, headers, body = _get(f"{base}/healthz", **{"X-Request-ID": "serve-test-0001"})
        assert (status, json.loads(body)) == (200, {"status": "ok"})
        assert headers["X-Request-ID"] == "serve-test-0001"
        status, _, body = _get(f"{base}/readyz")
        assert status == 200 and json.loads(body)["status"] == "ready"
        # Several requests so both workers serve some; the page adds up every worker.
        for _ in range(20):
            _get(f"{base}/healthz")
        status, _, body = _get(f"{base}/metrics")
        text = body.decode()
        assert status == 200
        counted = [line for line in text.splitlines() if line.startswith(
            'marketplace_http_request_duration_seconds_count{endpoint="ops.healthz"')]
        assert counted and float(counted[0].rsplit(" ", 1)[1]) >= 21

        _send_slowly_to_token_endpoint(base, seconds=5)
        assert _get(f"{base}/healthz")[0] == 200

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
        err = process.stderr.read() if process.stderr else ""
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert any(line.get("request_id") == "serve-test-0001" and line.get("path") == "/healthz"
               for line in lines)
    assert any(line["logger"] == "gunicorn.error" for line in lines)  # gunicorn's own, as JSON
    assert not any("WORKER TIMEOUT" in line["message"] for line in lines)


def _send_slowly_to_token_endpoint(base: str, *, seconds: float) -> None:
    """Trickle a form post for longer than the worker timeout, as a slow upload would."""
    port = int(base.rsplit(":", 1)[1])
    body = b"grant_type=client_credentials&client_id=nobody&client_secret=" + b"x" * 40
    pieces = 10
    step = -(-len(body) // pieces)
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(b"POST /oauth/token HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                           b"Content-Type: application/x-www-form-urlencoded\r\n"
                           b"Connection: close\r\n"
                           b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n")
        for start in range(0, len(body), step):
            connection.sendall(body[start:start + step])
            time.sleep(seconds / pieces)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    assert time.monotonic() - started >= seconds
    # The unknown client is refused (4xx), and nothing killed the worker meanwhile.
    assert answer.split(b"\r\n", 1)[0].startswith(b"HTTP/1.1 4"), answer[:300]


def test_a_process_holding_too_many_connections_lets_the_newest_go(installation) -> None:
    # One process with one thread keeps at most two connections alive (as set here): a third
    # client is still answered, then asked to connect again, and the first two stay open.
    env = {**installation, "MARKETPLACE_WEB_CONNECTIONS": "2"}
    with _serving(env, "--workers", "1", "--threads", "1") as (base, _):
        port = int(base.rsplit(":", 1)[1])
        time.sleep(0.5)  # the start-up probe's closed connection leaves the process's count
        clients = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(3)]
        try:
            answers = []
            for client in clients:
                client.request("GET", "/healthz")
                answer = client.getresponse()
                answer.read()
                answers.append((answer.status, answer.getheader("Connection")))
            assert answers == [(200, "keep-alive"), (200, "keep-alive"), (200, "close")]
            # The kept ones still serve, once the third has gone from the process's count.
            clients[2].close()
            time.sleep(0.5)
            clients[0].request("GET", "/healthz")
            again = clients[0].getresponse()
            again.read()
            assert (again.status, again.getheader("Connection")) == (200, "keep-alive")
        finally:
            for client in clients:
                client.close()
