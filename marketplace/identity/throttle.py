"""Throttling of wrong client secrets at the token endpoint.

Only failed client authentications count, per client id and address and per address alone, so
a well-behaved client is never slowed while guessing secrets stops after a handful of tries. The
counters live in `RATELIMIT_STORAGE_URI` (`memory://` for one process; a Redis URL when several
app processes must share them).
"""
from __future__ import annotations

import math
import time

from flask import Flask, Response, current_app, request
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from marketplace.errors import DomainError, problem_response

TOKEN_ENDPOINT = "/oauth/token"  # noqa: S105 - a path, not a secret


class TooManyAttempts(DomainError):
    status, title, slug = 429, "Too many requests", "too-many-requests"


def _client_id() -> str:
    if request.authorization and request.authorization.username:
        return request.authorization.username[:200]
    return str(request.form.get("client_id", ""))[:200]


def _keys() -> list[tuple[str, str]]:
    address = request.remote_addr or "-"
    config = current_app.config
    return [(config["TOKEN_FAILURES_PER_CLIENT"], f"token:{address}:{_client_id()}"),
            (config["TOKEN_FAILURES_PER_ADDRESS"], f"token:{address}")]


def _refuse_when_throttled() -> Response | None:
    if request.path != TOKEN_ENDPOINT or request.method != "POST":
        return None
    limiter: MovingWindowRateLimiter = current_app.extensions["marketplace.token_limiter"]
    for rule, key in _keys():
        limit = parse(rule)
        if not limiter.test(limit, key):
            reset = limiter.get_window_stats(limit, key).reset_time
            wait = max(1, math.ceil(reset - time.time()))
            return problem_response(TooManyAttempts(
                f"too many failed sign-ins for this client; try again in {wait} s",
                headers={"Retry-After": str(wait)}))
    return None


def _count_failure(response: Response) -> Response:
    if request.path == TOKEN_ENDPOINT and response.status_code == 401:
        limiter: MovingWindowRateLimiter = current_app.extensions["marketplace.token_limiter"]
        for rule, key in _keys():
            limiter.hit(parse(rule), key)
    return response


def init_app(app: Flask) -> None:
    storage = storage_from_string(app.config["RATELIMIT_STORAGE_URI"])
    app.extensions["marketplace.token_limiter"] = MovingWindowRateLimiter(storage)
    app.before_request(_refuse_when_throttled)
    app.after_request(_count_failure)
