"""Turn the browser's descriptor form into a descriptor and back (pure: mappings in, dicts out).

The form has one row of inputs per column of the dictionary (`col-<i>-<field>`); rows with an
empty name are ignored so the page can offer blank rows for new columns without scripts.
"""
import csv
import io
import re
from collections.abc import Mapping
from typing import Any

BLANK_ROWS = 4
MAX_ROWS = 200
GENERALISE_CHOICES = (
    "", "age_band:5", "age_band:10", "date:year", "date:quarter", "date:month", "date:week",
    "date:shift", "postcode:municipality", "postcode:region", "truncate:3",
)
_OPTION = {"age_band": "width", "date": "to", "postcode": "to", "truncate": "chars"}


def _lines(text: str) -> list[str]:
    return [part.strip() for part in text.replace("\n", ",").split(",") if part.strip()]


def _modifiers(form: Mapping, codes: list[str]) -> list[str]:
    """Checked DUO modifiers, each with the argument typed next to it ("TS:12")."""
    return [f"{code}:{argument}" if (argument := _get(form, f"duo_arg_{code}")) else code
            for code in codes]


def _get(form: Mapping, name: str) -> str:
    return str(form.get(name) or "").strip()


def descriptor_from_form(form: Mapping) -> dict[str, Any]:
    """Return the descriptor a submitted form describes (validation happens in the service)."""
    getlist = getattr(form, "getlist", lambda name: [form[name]] if name in form else [])
    descriptor: dict[str, Any] = {
        "title": _get(form, "title"),
        "title_en": _get(form, "title_en") or None,
        "description": _get(form, "description"),
        "description_en": _get(form, "description_en") or None,
        "keywords": _lines(_get(form, "keywords")),
        "themes": list(getlist("themes")),
        "health_categories": list(getlist("health_categories")),
        "access_rights": _get(form, "access_rights"),
        "legal_basis": _get(form, "legal_basis"),
        "consent_model": _get(form, "consent_model"),
        "data_use": {"permission": _get(form, "duo_permission"),
                     "diseases": _lines(_get(form, "duo_diseases")),
                     "modifiers": _modifiers(form, getlist("duo_modifiers"))},
        "spatial": _lines(_get(form, "spatial")),
        "temporal": _temporal(form),
        "contact_point": _contact(form),
        "k_min": _int_or_text(_get(form, "k_min")),
        "subject_column": _get(form, "subject_column") or None,
        "columns": [c for i in range(MAX_ROWS) if (c := _column(form, i)) is not None],
    }
    return descriptor


def _temporal(form: Mapping) -> dict | None:
    start, end = _get(form, "temporal_start"), _get(form, "temporal_end")
    return {"start": start or None, "end": end or None} if start or end else None


def _contact(form: Mapping) -> dict | None:
    contact = {"name": _get(form, "contact_name") or None,
               "email": _get(form, "contact_email") or None,
               "url": _get(form, "contact_url") or None}
    return contact if any(contact.values()) else None


def _int_or_text(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        return text or None


def _number_or_text(text: str, kind: str) -> Any:
    if not text:
        return None
    if kind in ("integer", "number"):
        try:
            return int(text) if kind == "integer" else float(text.replace(",", "."))
        except ValueError:
            return text
    return text


def _column(form: Mapping, index: int) -> dict | None:
    prefix = f"col-{index}-"
    name = _get(form, prefix + "name")
    if not name:
        return None
    kind = _get(form, prefix + "type")
    column: dict[str, Any] = {
        "name": name, "type": kind, "role": _get(form, prefix + "role"),
        "description": _get(form, prefix + "description") or None,
        "required": bool(form.get(prefix + "required")),
        "unique": bool(form.get(prefix + "unique")),
        "shareable": bool(form.get(prefix + "shareable")),
    }
    for field in ("identifier_kind", "concept", "code_system", "pattern"):
        if value := _get(form, prefix + field):
            column[field] = value
    if generalise := _get(form, prefix + "generalise"):
        rule, _, option = generalise.partition(":")
        column["generalise"] = {"kind": rule, _OPTION.get(rule, "option"):
                                _int_or_text(option) if rule in ("age_band", "truncate")
                                else option}
    for bound in ("minimum", "maximum"):
        if (value := _number_or_text(_get(form, prefix + bound), kind)) is not None:
            column[bound] = value
    if allowed := _lines(_get(form, prefix + "allowed_values")):
        column["allowed_values"] = allowed
    if diversity := _get(form, prefix + "l_diversity"):
        column["l_diversity"] = _int_or_text(diversity)
    return column


def rows_asked(form: Mapping, *, more: int = 0) -> int:
    """How many column rows the form showed (`rows`), plus `more`, within 1 … MAX_ROWS."""
    text = _get(form, "rows")
    shown = int(text) if text.isdigit() and len(text) < 4 else 0
    return max(1, min(MAX_ROWS, shown + more))


def form_rows(columns: list[dict], *, total: int = 0) -> list[dict]:
    """Return the column rows to draw: the existing columns, then blank ones up to `total`
    rows (at least BLANK_ROWS blank ones when no total is asked for, and never more than
    MAX_ROWS rows)."""
    rows = []
    for column in columns:
        rule = column.get("generalise") or {}
        option = rule.get(_OPTION.get(rule.get("kind", ""), ""), "")
        rows.append(column | {
            "generalise_choice": f"{rule['kind']}:{option}" if rule else "",
            "allowed_text": ", ".join(column.get("allowed_values") or []),
        })
    blank = {"name": "", "type": "string", "role": "attribute", "shareable": True,
             "generalise_choice": "", "allowed_text": ""}
    blanks = max(total - len(rows), 0) if total else BLANK_ROWS
    blanks = max(0, min(blanks, MAX_ROWS - len(rows)))
    return rows + [dict(blank) for _ in range(blanks)]


_INPUTS = {
    "data_use.permission": "duo_permission", "data_use.diseases": "duo_diseases",
    "data_use.modifiers": "duo_modifiers", "temporal": "temporal_start",
    "temporal.start": "temporal_start", "temporal.end": "temporal_end",
    "contact_point": "contact_email", "contact_point.name": "contact_name",
    "contact_point.email": "contact_email", "contact_point.url": "contact_url",
}
_COLUMN_FIELD = re.compile(r"^columns\[(\d+)\](?:\.(\w+))?")
_INDEX = re.compile(r"\[\d+\]$")


def input_for(field: str) -> str:
    """The form input an error about `field` belongs beside (`col-2-name` for
    `columns[2].name`, `col-2-row` for the whole row of `columns[2]`)."""
    column = _COLUMN_FIELD.match(field)
    if column:
        return f"col-{column.group(1)}-{column.group(2) or 'row'}"
    field = _INDEX.sub("", field)
    return _INPUTS.get(field, field)


def errors_by_input(errors: list[dict]) -> dict[str, str]:
    """The first error beside each form input."""
    placed: dict[str, str] = {}
    for error in errors:
        placed.setdefault(input_for(error.get("field") or ""), error["message"])
    return placed


def column_template(columns: list[dict]) -> str:
    """A CSV file with the column dictionary's names as its header, ready to fill with rows
    (UTF-8 without BOM and commas, as uploads expect)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(column["name"] for column in columns)
    return out.getvalue()
