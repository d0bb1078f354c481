"""Reading JSON request bodies the same way on every API blueprint.

The typed edge validates a body against its model; a body that is not JSON at all is a
different mistake (400, "send JSON"), told apart here before the model sees it. `create_app`
runs `parse_json_body` before every request.
"""

from __future__ import annotations

import copy
import io
from pathlib import Path
from typing import IO, Any, cast

from flask import Request, current_app, request
from pydantic import BaseModel
from werkzeug.exceptions import BadRequest as WerkzeugBadRequest

from marketplace.errors import BadRequest
from marketplace.security import SealedSpool

# Form files up to this size stay in memory; larger ones go to a sealed spool on disk.
IN_MEMORY_FORM_FILE = 500 * 1024

_WITH_BODY = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def parse_json_body() -> None:
    """Before every API call with a body: parse JSON once; raise BadRequest when it is unreadable.

    A form or text body where JSON belongs is told to send JSON; malformed JSON and JSON nested
    deeper than the parser allows are 400s naming why, never server errors. Uploads that accept
    large bodies, and other content types (a file upload), are left to their views.
    """
    if request.method not in _WITH_BODY or not request.path.startswith("/api/"):
        return
    view = current_app.view_functions.get(request.endpoint or "")
    if getattr(view, "accepts_large_body", False) or not request.get_data(cache=True):
        return
    if not request.is_json:
        if request.mimetype in ("", "application/x-www-form-urlencoded", "text/plain"):
            raise BadRequest("send JSON (Content-Type: application/json)")
        return
    try:
        request.get_json()  # cached: the model reads the same parsed value
    except RecursionError:
        raise BadRequest("JSON-indholdet er for dybt indlejret") from None
    except WerkzeugBadRequest:
        raise BadRequest("indholdet er ikke gyldig JSON (Content-Type: application/json)") from None


def json_object(*, allow_empty: bool = False) -> dict[str, Any]:
    """Return the JSON object in the request body; raise BadRequest for anything else.

    For views not yet on the typed edge. With `allow_empty`, an empty body counts as `{}`.
    """
    if allow_empty and not request.get_data(cache=True):
        return {}
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("send et JSON-objekt (Content-Type: application/json)")
    return body


class QueryModel(BaseModel):
    """Base of query-parameter models: the typed edge asks for the model's JSON schema on every
    request (to tell list parameters from single ones); generating it costs milliseconds, so
    each model's schema is made once.

    The per-request call (no arguments) only reads the schema and gets the kept one itself: a
    deep copy costs as much as the rest of a catalog search. Any other call (the API document
    passes a reference template, and may edit what it gets) gets a copy.
    """

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        key = (cls, args, tuple(sorted(kwargs.items())))
        schema = _SCHEMAS.get(key)
        if schema is None:
            schema = _SCHEMAS[key] = super().model_json_schema(*args, **kwargs)
        return schema if not args and not kwargs else copy.deepcopy(schema)


_SCHEMAS: dict[tuple, dict[str, Any]] = {}


class SpoolingRequest(Request):
    """A request whose form files are received into sealed spools: a file being uploaded is
    never in clear on disk, and nothing of it outlives a killed process."""

    def _get_file_stream(self, total_content_length: int | None, content_type: str | None,
                         filename: str | None = None, content_length: int | None = None
                         ) -> IO[bytes]:
        if total_content_length is not None and total_content_length <= IN_MEMORY_FORM_FILE:
            return io.BytesIO()
        return cast(IO[bytes], SealedSpool(Path(current_app.config["DATA_DIR"]) / "tmp"))
