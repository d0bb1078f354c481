"""Reading request bodies the same way in every API view."""

from __future__ import annotations

from typing import Any

from flask import request
from werkzeug.exceptions import HTTPException

from marketplace.errors import BadRequest


def json_object(*, allow_empty: bool = False) -> dict[str, Any]:
    """Return the JSON object in the request body; raise BadRequest for anything else.

    With `allow_empty`, an empty body counts as `{}` (for actions whose body is optional).
    """
    if allow_empty and not request.get_data(cache=True):
        return {}
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("send a JSON object (Content-Type: application/json)")
    return body


def refuse_unreadable_json() -> None:
    """Before a typed API view: a body that is not readable JSON is a 400 naming why.

    The models then see a parsed value or nothing; JSON nested deeper than the parser's
    recursion allows would otherwise escape as a server error.
    """
    if request.method not in ("POST", "PUT", "PATCH") or not request.get_data(cache=True):
        return
    if not request.is_json:
        if request.mimetype in ("", "application/x-www-form-urlencoded", "text/plain"):
            raise BadRequest("send JSON (Content-Type: application/json)")
        return  # a file upload: the view reads it

    try:
        request.get_json()
    except RecursionError:
        raise BadRequest("the JSON is nested too deeply") from None
    except HTTPException:
        raise BadRequest("the body is not valid JSON") from None
