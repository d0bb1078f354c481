"""Errors of the statistics domain in Danish source text, with each message's template kept so
the edge can show it in the caller's language."""
from __future__ import annotations

from typing import Any

from marketplace.errors import Conflict, Invalid


def problem(field: str, template: str, **values: Any) -> dict[str, Any]:
    """One field error: Danish source text, with its template kept so the edge can translate."""
    return {"field": field, "message": template.format(**values), "template": template,
            "values": values}


def invalid(field: str, template: str, **values: Any) -> Invalid:
    item = problem(field, template, **values)
    return Invalid(item["message"], errors=[item])


def conflict(template: str, **values: Any) -> Conflict:
    error = Conflict(template, **values)
    error.errors = [problem("", template, **values)]
    return error
