"""The typed API edge: pydantic models validate every request and document every operation.

Routes are declared on a `flask_openapi3.APIBlueprint`; the view's annotated parameters
(`path`, `query`, `body`) are pydantic models, validated before the view runs, and the same
models generate `/api/openapi.json`. A validation failure becomes the one problem+json shape of
the whole API (`errors: [{field, message}]`) in the caller's language.

A view on the edge reads like this::

    bp = APIBlueprint("access_api", __name__, abp_tags=[Tag(name="access")])

    class RequestPath(BaseModel):
        request_id: Id

    @bp.post("/api/v1/access-requests/<int:request_id>/review",
             responses=responses(200, AccessRequestOut, 401, 403, 404, 409, 422),
             security=requires("access:review"))
    @api_auth("access:review")
    def api_review(path: RequestPath, body: ReviewIn) -> Response:
        ...

Pages (HTML) stay on plain Flask blueprints.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, cast

from flask import Response, jsonify
from flask_openapi3.types import ResponseDict
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)
from pydantic import ValidationError as PydanticValidationError
from pydantic_core import PydanticCustomError

from marketplace.cpr import contains_cpr, refuse_cpr_in_text
from marketplace.languages import N_
from marketplace.web.i18n import gettext as _
from marketplace.web.i18n import ngettext
from marketplace.web.requests import QueryModel

MAX_ID = 2**31 - 1  # ids are 32-bit integers in PostgreSQL; larger ones cannot name anything
MAX_PAGE = 100_000
MAX_PER_PAGE = 200
DEFAULT_PER_PAGE = 50

# --- reusable field types -------------------------------------------------------------------

Id = Annotated[int, Field(ge=1, le=MAX_ID, strict=False)]
"""A database id: a whole number from 1 to 2³¹−1."""


def _no_cpr(value: str) -> str:
    if contains_cpr(value):
        raise PydanticCustomError("cpr_in_text", "fjern CPR-numre fra teksten")
    return value


def FreeText(max_length: int, *, min_length: int = 0) -> Any:
    """Text a person typed: stripped, bounded and refused when it holds a CPR number."""
    return Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length),
        AfterValidator(_no_cpr),
    ]


Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
"""A short machine code (purpose, DUO code, slug)."""

ColumnName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")]


class Body(BaseModel):
    """Base of request bodies: unknown fields are refused, so a typo is not silently ignored,
    and no field (text, codes, lists, JSON) takes a CPR number: 422 naming the field."""

    model_config = ConfigDict(extra="forbid", str_max_length=100_000)

    @field_validator("*", mode="after")
    @classmethod
    def _refuse_cpr(cls, value: Any) -> Any:
        return refuse_cpr_in_text(value)


class Out(BaseModel):
    """Base of response bodies (documentation only; views serialise with `model_dump`)."""

    model_config = ConfigDict(extra="allow")


class PageQuery(QueryModel):
    """Paging of long lists: `page` from 1, `per_page` from 1 to 200."""

    model_config = ConfigDict(extra="ignore")
    page: int = Field(1, ge=1, le=MAX_PAGE)
    per_page: int = Field(DEFAULT_PER_PAGE, ge=1, le=MAX_PER_PAGE)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


# --- problems -------------------------------------------------------------------------------

class FieldError(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details, as every API error is answered."""

    model_config = ConfigDict(extra="allow")
    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = None


_PROBLEM_TEXT = {
    400: "Malformed request",
    401: "Missing or invalid credentials",
    403: "The caller may not do this",
    404: "No such object, or not visible to the caller",
    409: "The object is not in a state that allows this",
    413: "The body is too large",
    422: "Invalid input; `errors` names each field",
    429: "Too many requests",
}


def responses(*spec: int | type[BaseModel] | None) -> ResponseDict:
    """Build the `responses` of an operation: a status followed by its model, or a bare problem.

    `responses(201, AccessRequestOut, 401, 403, 422)` documents 201 with the model and the
    problem statuses with the Problem shape. A success status followed by `None` has no body.
    """
    result: ResponseDict = {}
    items = list(spec)
    while items:
        status = items.pop(0)
        if not isinstance(status, int):
            raise TypeError(f"expected a status code, got {status!r}")
        if status < 400:
            model = items.pop(0) if items and not isinstance(items[0], int) else None
            result[str(status)] = cast("type[BaseModel] | None", model)
        else:
            result[str(status)] = {
                "description": _PROBLEM_TEXT.get(status, "Problem"),
                "content": {"application/problem+json": {"schema": {
                    "$ref": "#/components/schemas/Problem"}}},
            }
    return result


def requires(scope: str | None = None, *, session: bool = True) -> list[dict[str, list[str]]]:
    """The security of an operation: a bearer token with `scope`, or a browser session."""
    schemes: list[dict[str, list[str]]] = [{"oauth2": [scope] if scope else []}]
    if session:
        schemes.append({"session": []})
    return schemes


PUBLIC: list[dict[str, list[str]]] = []

SECURITY_SCHEMES: dict[str, Any] = {
    "oauth2": {"type": "oauth2", "flows": {"clientCredentials": {
        "tokenUrl": "/oauth/token", "scopes": {}}}},
    "session": {"type": "apiKey", "in": "cookie", "name": "session",
                "description": "A signed-in browser session; state changes need X-CSRF-Token"},
}


# --- validation errors, in the caller's language --------------------------------------------

# Danish source text per pydantic error type; `_()` gives English. `{…}` are pydantic's context.
_INVALID = N_("er ugyldig")
_MESSAGES: dict[str, str] = {
    "missing": N_("skal udfyldes"),
    "extra_forbidden": N_("kendes ikke"),
    "string_type": N_("skal være tekst"),
    "string_too_short": N_("skal udfyldes"),
    "string_too_long": N_("højst {max_length} tegn"),
    "string_pattern_mismatch": N_("har ikke den rigtige form"),
    "string_unicode": "skal være gyldig Unicode-tekst",
    "int_type": "skal være et helt tal",
    "int_parsing": "skal være et helt tal",
    "int_from_float": "skal være et helt tal",
    "float_type": N_("skal være et tal"),
    "float_parsing": N_("skal være et tal"),
    "finite_number": N_("skal være et endeligt tal"),
    "bool_type": N_("skal være sand eller falsk"),
    "bool_parsing": N_("skal være sand eller falsk"),
    "greater_than": N_("skal være større end {gt}"),
    "greater_than_equal": N_("skal være mindst {ge}"),
    "less_than": N_("skal være mindre end {lt}"),
    "less_than_equal": N_("må højst være {le}"),
    "list_type": N_("skal være en liste"),
    "dict_type": N_("skal være et objekt"),
    "model_type": N_("skal være et objekt"),
    "model_attributes_type": N_("skal være et objekt"),
    "literal_error": N_("skal være en af: {expected}"),
    "enum": N_("skal være en af: {expected}"),
    "date_type": N_("skal være en dato (ÅÅÅÅ-MM-DD)"),
    "date_parsing": N_("skal være en dato (ÅÅÅÅ-MM-DD)"),
    "date_from_datetime_parsing": N_("skal være en dato (ÅÅÅÅ-MM-DD)"),
    "datetime_type": N_("skal være et tidspunkt (ISO 8601)"),
    "datetime_parsing": N_("skal være et tidspunkt (ISO 8601)"),
    "datetime_from_date_parsing": N_("skal være et tidspunkt (ISO 8601)"),
    "json_invalid": N_("er ikke gyldig JSON"),
    "json_type": N_("er ikke gyldig JSON"),
    "union_tag_invalid": N_("har en ukendt type"),
    "cpr_in_text": "fjern CPR-numre fra teksten",
    "recursion_loop": N_("er for dybt indlejret"),
}


def _field_name(location: Iterable[int | str]) -> str:
    name = ""
    for part in location:
        if isinstance(part, int):
            name += f"[{part}]"
        else:
            name += f".{part}" if name else str(part)
    return name


def _count_message(error: Any) -> str | None:
    """Length limits on lists, with the plural the number needs ("mindst 1 element")."""
    context = error.get("ctx") or {}
    if error["type"] == "too_short" and isinstance(context.get("min_length"), int):
        return ngettext("skal have mindst {count} element", "skal have mindst {count} elementer",
                        context["min_length"])
    if error["type"] == "too_long" and isinstance(context.get("max_length"), int):
        return ngettext("må højst have {count} element", "må højst have {count} elementer",
                        context["max_length"])
    return None


def _message(error: Any) -> str:
    counted = _count_message(error)
    if counted is not None:
        return counted
    template = _MESSAGES.get(error["type"])
    if template is None:
        # Our own validators raise PydanticCustomError with a Danish message as their template.
        return _(str(error.get("msg", _INVALID)))
    context = {key: str(value) for key, value in (error.get("ctx") or {}).items()}
    try:
        return _(template, **context)
    except (KeyError, IndexError):
        return _(template)


def field_errors(error: PydanticValidationError) -> list[dict[str, str]]:
    """Turn a pydantic error into `[{field, message}]` in the request's language."""
    items: list[dict[str, str]] = []
    for entry in error.errors(include_url=False, include_input=False):
        location = [part for part in entry["loc"] if part not in ("body", "query", "path")]
        items.append({"field": _field_name(location), "message": _message(entry)})
    return items


def validation_problem(error: PydanticValidationError) -> Response:
    """The response for a request that fails its model: 422 problem+json naming each field."""
    from marketplace.errors import Invalid

    items = field_errors(error)
    fields = ", ".join(dict.fromkeys(item["field"] or "body" for item in items))
    problem = Invalid(_("ugyldige felter: {fields}", fields=fields), errors=items).to_problem()
    problem["title"] = _("Ugyldigt input")
    response = jsonify(problem)
    response.mimetype = "application/problem+json"
    response.status_code = 422
    return response
