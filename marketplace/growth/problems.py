"""Domain errors whose text is Danish source text with named values (pure).

Services cannot know the caller's language; they raise these, and the growth views translate
the text (`_()`) before the one error handler renders it, so every refusal reaches the user in
their language.
"""

from __future__ import annotations

from typing import Any

from marketplace.errors import Conflict, DomainError, Forbidden, Invalid, NotFound


def _tag(error: DomainError, template: str, values: dict[str, Any]) -> DomainError:
    error.template = template
    error.values = values
    return error


def _fill(template: str, values: dict[str, Any]) -> str:
    return template.format(**values) if values else template


def conflict(template: str, **values: Any) -> DomainError:
    return _tag(Conflict(_fill(template, values)), template, values)


def forbidden(template: str, **values: Any) -> DomainError:
    return _tag(Forbidden(_fill(template, values)), template, values)


def not_found(template: str, **values: Any) -> DomainError:
    return _tag(NotFound(_fill(template, values)), template, values)


def invalid(items: list[tuple[str, str, dict[str, Any]]]) -> DomainError:
    """One Invalid error naming each (field, Danish message, values)."""
    errors = [{"field": field, "message": _fill(template, values)}
              for field, template, values in items]
    fields = ", ".join(dict.fromkeys(field for field, _t, _v in items))
    error = _tag(Invalid(_fill("ugyldige felter: {fields}", {"fields": fields}), errors=errors),
                 "ugyldige felter: {fields}", {"fields": fields})
    error.field_templates = items  # type: ignore[attr-defined]
    return error


def invalid_field(field: str, template: str, **values: Any) -> DomainError:
    return invalid([(field, template, values)])
