"""Reading request bodies the same way in every API view."""

from __future__ import annotations

from typing import Any

from flask import request

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
