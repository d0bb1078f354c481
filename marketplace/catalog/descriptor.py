"""Validate and normalise dataset descriptors (pure: plain dicts in, plain dicts out).

A descriptor arrives from the API or the browser form as JSON. `normalise_descriptor` checks
every field against the public contract and returns a clean copy, or raises `Invalid` with one
error per field so that a client can fix them all at once.
"""
import re
from datetime import date
from typing import Any

from marketplace.catalog import vocabulary as voc
from marketplace.errors import Invalid

ICD10_CODE = re.compile(r"^D[A-Z][0-9]{2}[0-9A-Z]{0,4}$")
BARE_ICD10_CODE = re.compile(r"^[A-Z][0-9]{2}[0-9A-Z]{0,4}$")
COLUMN_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")
EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
SPATIAL_CODE = re.compile(r"^(DK|[0-9]{3,4})$")

# Fields the server computes from the data; clients may echo them back, they are ignored.
SERVER_FIELDS = frozenset({
    "id", "publisher", "status", "number_of_records", "number_of_unique_individuals",
    "min_typical_age", "max_typical_age", "quality", "created_at", "updated_at",
    "published_at", "current_version", "links",
})
EDITABLE_FIELDS = (
    "title", "title_en", "description", "description_en", "keywords", "themes",
    "health_categories", "access_rights", "legal_basis", "consent_model", "data_use", "spatial",
    "temporal", "contact_point", "k_min", "subject_column", "columns",
)
DEFAULTS: dict[str, Any] = {
    "title_en": None, "description_en": None, "keywords": [], "themes": ["HEAL"],
    "health_categories": [], "access_rights": "NON_PUBLIC",
    "legal_basis": "GDPR art. 6(1)(e) og art. 9(2)(j); EHDS art. 53",
    "consent_model": "opt_out", "data_use": {"permission": "GRU", "diseases": [], "modifiers": []},
    "spatial": [], "temporal": None, "contact_point": None, "k_min": 5, "subject_column": None,
    "columns": [],
}
MAX_COLUMNS = 200
# Generalisation options a rule may leave out (the date shift's bound has a default downstream).
OPTIONAL_GENERALISE_OPTIONS = frozenset({"max_days"})
DUO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
DUO_MODIFIER = re.compile(r"^([A-Za-z]+)(?:[:(]\s*([^)]*?)\s*\)?)?$")
COUNTRY_CODE = re.compile(r"^[A-Z]{2}$")
ORG_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,78}[a-z0-9])?$")
USER_SUB = re.compile(r"^[A-Za-z0-9._@|+-]{1,200}$")
PROJECT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$")
MAX_TS_MONTHS = 1200
K_MIN_RANGE = (2, 1000)


class _Errors:
    """Collects field errors; raises them together."""

    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []

    def add(self, field: str, message: str) -> None:
        self.items.append({"field": field, "message": message})

    def raise_if_any(self) -> None:
        if self.items:
            raise Invalid("The descriptor is not valid.", errors=self.items)


def normalise_icd10(code: Any) -> str | None:
    """Return the SKS form ("DJ44") of an ICD-10 code, or None when it is not one."""
    if not isinstance(code, str):
        return None
    code = code.strip().upper().replace(".", "")
    if BARE_ICD10_CODE.match(code):
        code = "D" + code
    return code if ICD10_CODE.match(code) else None


def normalise_descriptor(data: Any, *, base: dict | None = None) -> dict:
    """Return a clean descriptor from `data` laid over `base` (for PATCH); raise Invalid."""
    errors = _Errors()
    if not isinstance(data, dict):
        errors.add("", "The descriptor must be a JSON object.")
        errors.raise_if_any()
    unknown = sorted(set(data) - set(EDITABLE_FIELDS) - SERVER_FIELDS)
    for name in unknown:
        errors.add(name, "Unknown field.")
    merged = dict(DEFAULTS) | (base or {}) | {k: v for k, v in data.items() if k in EDITABLE_FIELDS}
    clean = {
        "title": _text(errors, "title", merged.get("title"), required=True, limit=300),
        "title_en": _text(errors, "title_en", merged["title_en"], limit=300),
        "description": _text(errors, "description", merged.get("description"), required=True,
                             limit=10_000),
        "description_en": _text(errors, "description_en", merged["description_en"], limit=10_000),
        "keywords": _keywords(errors, merged["keywords"]),
        "themes": _codes(errors, "themes", merged["themes"], voc.THEMES, required=True),
        "health_categories": _codes(errors, "health_categories", merged["health_categories"],
                                    voc.HEALTH_CATEGORIES, required=True),
        "access_rights": _choice(errors, "access_rights", merged["access_rights"],
                                 voc.ACCESS_RIGHTS),
        "legal_basis": _text(errors, "legal_basis", merged["legal_basis"], required=True,
                             limit=500),
        "consent_model": _choice(errors, "consent_model", merged["consent_model"],
                                 voc.CONSENT_MODELS),
        "data_use": _data_use(errors, merged["data_use"]),
        "spatial": _spatial(errors, merged["spatial"]),
        "temporal": _temporal(errors, merged["temporal"]),
        "contact_point": _contact_point(errors, merged["contact_point"]),
        "k_min": _integer(errors, "k_min", merged["k_min"], *K_MIN_RANGE),
        "columns": _columns(errors, merged["columns"]),
    }
    clean["subject_column"] = _subject_column(errors, merged["subject_column"], clean["columns"])
    errors.raise_if_any()
    return clean


def _text(errors: _Errors, field: str, value: Any, *, required: bool = False,
          limit: int) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors.add(field, "This field is required.")
        return None
    if not isinstance(value, str):
        errors.add(field, "Must be text.")
        return None
    value = value.strip()
    if len(value) > limit:
        errors.add(field, f"At most {limit} characters.")
    if "\x00" in value:
        errors.add(field, "Contains a NUL character.")
    return value


def _string_list(errors: _Errors, field: str, value: Any, *, limit: int = 50) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        errors.add(field, "Must be a list of text values.")
        return []
    if len(value) > limit:
        errors.add(field, f"At most {limit} values.")
    return [v.strip() for v in value if v.strip()]


def _keywords(errors: _Errors, value: Any) -> list[str]:
    keywords = _string_list(errors, "keywords", value)
    for index, keyword in enumerate(keywords):
        if len(keyword) > 80:
            errors.add(f"keywords[{index}]", "At most 80 characters.")
    return list(dict.fromkeys(keywords))


def _codes(errors: _Errors, field: str, value: Any, allowed: dict, *,
           required: bool = False) -> list[str]:
    codes = _string_list(errors, field, value)
    for index, code in enumerate(codes):
        if code not in allowed:
            errors.add(f"{field}[{index}]", f"Unknown code {code!r}; use one of "
                       + ", ".join(allowed) + ".")
    if required and not codes and not any(e["field"] == field for e in errors.items):
        errors.add(field, "Choose at least one.")
    return list(dict.fromkeys(codes))


def _choice(errors: _Errors, field: str, value: Any, allowed: tuple[str, ...]) -> str | None:
    if value not in allowed:
        errors.add(field, "Must be one of " + ", ".join(allowed) + ".")
        return None
    return value


def _integer(errors: _Errors, field: str, value: Any, low: int, high: int) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        errors.add(field, "Must be a whole number.")
        return None
    if not low <= value <= high:
        errors.add(field, f"Must be between {low} and {high}.")
    return value


def _data_use(errors: _Errors, value: Any) -> dict:
    if not isinstance(value, dict):
        errors.add("data_use", "Must be an object with permission, diseases and modifiers.")
        return {}
    for name in sorted(set(value) - {"permission", "diseases", "modifiers", "purposes"}):
        errors.add(f"data_use.{name}", "Unknown field.")
    permission = value.get("permission")
    if permission not in voc.DUO_PERMISSIONS:
        errors.add("data_use.permission", f"Unknown DUO permission {permission!r}; use one of "
                   + ", ".join(voc.DUO_PERMISSIONS) + ".")
    modifiers = _modifiers(errors, value.get("modifiers"))
    diseases = []
    for index, code in enumerate(_string_list(errors, "data_use.diseases",
                                              value.get("diseases"))):
        normal = normalise_icd10(code)
        if normal is None:
            errors.add(f"data_use.diseases[{index}]", f"{code!r} is not an ICD-10 code.")
        else:
            diseases.append(normal)
    if permission == "DS" and not diseases and "data_use.diseases" not in _fields(errors):
        errors.add("data_use.diseases", "DS (disease-specific) needs at least one disease.")
    if permission != "DS" and diseases:
        errors.add("data_use.diseases", "Diseases apply only to the DS permission.")
    clean = {"permission": permission, "diseases": list(dict.fromkeys(diseases)),
             "modifiers": modifiers}
    if value.get("purposes") is not None:
        clean["purposes"] = _purposes(errors, value["purposes"])
    return clean


def _modifiers(errors: _Errors, value: Any) -> list[str]:
    """DUO modifiers as "CODE" or "CODE:argument" (also read "CODE(argument)")."""
    clean: dict[str, str] = {}
    for index, raw in enumerate(_string_list(errors, "data_use.modifiers", value)):
        field = f"data_use.modifiers[{index}]"
        match = DUO_MODIFIER.match(raw)
        code = match.group(1).upper() if match else raw
        if not match or code not in voc.DUO_MODIFIERS:
            errors.add(field, f"Unknown DUO modifier {raw!r}.")
            continue
        if code in clean:
            errors.add(field, f"The DUO modifier {code} is given twice.")
            continue
        argument = match.group(2)
        if argument is None or argument == "":
            clean[code] = code
            continue
        if code not in voc.DUO_MODIFIER_ARGUMENTS:
            errors.add(field, f"The DUO modifier {code} takes no argument.")
            continue
        normal = _modifier_argument(code, argument)
        if normal is None:
            errors.add(field, f"{raw!r}: {MODIFIER_HINTS[code]}")
        else:
            clean[code] = f"{code}:{normal}"
    return list(clean.values())


MODIFIER_HINTS = {
    "TS": f"TS takes a number of months from 1 to {MAX_TS_MONTHS}, e.g. TS:12.",
    "GS": "GS takes country codes or regions (" + ", ".join(voc.DUO_REGIONS)
          + "), e.g. GS:EU or GS:DK,SE.",
    "IS": "IS takes organisation slugs, e.g. IS:herlev-hospital,rigshospitalet.",
    "US": "US takes user identifiers (sign-in subjects), e.g. US:company-pulmo.",
    "PS": "PS takes a project identifier (letters, digits, . _ / -).",
    "MOR": "MOR takes a date written YYYY-MM-DD, e.g. MOR:2027-06-01.",
}


def _modifier_argument(code: str, argument: str) -> str | None:
    """The normal form of a modifier's argument, or None when it is malformed."""
    if code == "TS":
        return str(int(argument)) if argument.isdigit() and 1 <= int(
            argument) <= MAX_TS_MONTHS else None
    if code == "MOR":
        try:
            return date.fromisoformat(argument).isoformat() if DUO_DATE.match(argument) else None
        except ValueError:
            return None
    if code == "PS":
        return argument if PROJECT_ID.match(argument) else None
    items = [item for item in re.split(r"[\s,;]+", argument) if item]
    if code == "GS":
        items = [item.upper() for item in items]
        valid = all(i in voc.DUO_REGIONS or COUNTRY_CODE.match(i) for i in items)
    elif code == "IS":
        items = [item.lower() for item in items]
        valid = all(ORG_SLUG.match(i) for i in items)
    else:
        valid = all(USER_SUB.match(i) for i in items)
    return ",".join(dict.fromkeys(items)) if items and valid and len(items) <= 50 else None


def _purposes(errors: _Errors, value: Any) -> list[str]:
    """Purpose codes of the shared taxonomy the holder offers the data for (none prohibited)."""
    # Imported here: consent's services import the catalog's, which import this module.
    from marketplace.consent import services as consent_services

    codes = _string_list(errors, "data_use.purposes", value)
    for index, code in enumerate(codes):
        purpose = consent_services.get_purpose(code)
        if purpose is None:
            errors.add(f"data_use.purposes[{index}]",
                       f"Unknown purpose {code!r}; see /api/v1/purposes.")
        elif purpose.prohibited:
            errors.add(f"data_use.purposes[{index}]", f"The purpose {code!r} is prohibited.")
    return list(dict.fromkeys(codes))


def _fields(errors: _Errors) -> set[str]:
    return {e["field"] for e in errors.items}


def _spatial(errors: _Errors, value: Any) -> list[str]:
    codes = _string_list(errors, "spatial", value, limit=120)
    for index, code in enumerate(codes):
        if not SPATIAL_CODE.match(code) or (
                len(code) == 3 and code not in voc.MUNICIPALITY_CODES) or (
                len(code) == 4 and code not in voc.REGION_CODES):
            errors.add(f"spatial[{index}]", f"{code!r} is not a Danish municipality code, "
                       "region code or DK.")
    return list(dict.fromkeys(codes))


def _iso_date(errors: _Errors, field: str, value: Any) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value) if isinstance(value, str) else _fail(value)
    except (TypeError, ValueError):
        errors.add(field, "Must be a date written YYYY-MM-DD.")
        return None


def _fail(value: Any) -> date:
    raise TypeError(value)


def _temporal(errors: _Errors, value: Any) -> dict | None:
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) - {"start", "end"}:
        errors.add("temporal", "Must be an object with start and end dates.")
        return None
    start = _iso_date(errors, "temporal.start", value.get("start"))
    end = _iso_date(errors, "temporal.end", value.get("end"))
    if start and end and start > end:
        errors.add("temporal", "The start date lies after the end date.")
    return {"start": start.isoformat() if start else None,
            "end": end.isoformat() if end else None}


def _contact_point(errors: _Errors, value: Any) -> dict | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = {"email": value}
    if not isinstance(value, dict) or set(value) - {"name", "email", "url"}:
        errors.add("contact_point", "Must be an object with name, email and url.")
        return None
    email = _text(errors, "contact_point.email", value.get("email"), limit=200)
    if email and not EMAIL.match(email):
        errors.add("contact_point.email", "Not an e-mail address.")
    url = _text(errors, "contact_point.url", value.get("url"), limit=500)
    if url and not url.startswith(("https://", "http://")):
        errors.add("contact_point.url", "Must start with https://.")
    return {"name": _text(errors, "contact_point.name", value.get("name"), limit=200),
            "email": email, "url": url}


def _columns(errors: _Errors, value: Any) -> list[dict]:
    if not isinstance(value, list) or not all(isinstance(c, dict) for c in value):
        errors.add("columns", "Must be a list of column objects.")
        return []
    if len(value) > MAX_COLUMNS:
        errors.add("columns", f"At most {MAX_COLUMNS} columns.")
        return []
    columns = [_column(errors, f"columns[{i}]", c) for i, c in enumerate(value)]
    seen: set[str] = set()
    for index, column in enumerate(columns):
        name = (column["name"] or "").lower()
        if name and name in seen:
            errors.add(f"columns[{index}].name", f"Duplicate column name {column['name']!r}.")
        seen.add(name)
    return columns


COLUMN_FIELDS = frozenset({
    "name", "type", "role", "identifier_kind", "generalise", "allowed_values", "minimum",
    "maximum", "pattern", "description", "shareable", "concept", "l_diversity", "required",
    "unique", "code_system",
})


def _column(errors: _Errors, at: str, raw: dict) -> dict:
    for name in sorted(set(raw) - COLUMN_FIELDS):
        errors.add(f"{at}.{name}", "Unknown column field.")
    name = raw.get("name")
    if not isinstance(name, str) or not COLUMN_NAME.match(name):
        errors.add(f"{at}.name", "A column name starts with a letter and holds only letters, "
                   "digits and _ (at most 63).")
    kind = _choice(errors, f"{at}.type", raw.get("type"), voc.COLUMN_TYPES)
    role = _choice(errors, f"{at}.role", raw.get("role", "attribute"), voc.COLUMN_ROLES)
    column = {
        "name": name if isinstance(name, str) else None, "type": kind, "role": role,
        "description": _text(errors, f"{at}.description", raw.get("description"), limit=1000),
        "shareable": _flag(errors, f"{at}.shareable", raw.get("shareable"),
                           default=role != "direct_identifier"),
        "required": _flag(errors, f"{at}.required", raw.get("required"), default=False),
        "unique": _flag(errors, f"{at}.unique", raw.get("unique"), default=False),
    }
    identifier_kind = raw.get("identifier_kind")
    if role == "direct_identifier":
        column["identifier_kind"] = _choice(errors, f"{at}.identifier_kind", identifier_kind,
                                            voc.IDENTIFIER_KINDS)
    elif identifier_kind is not None:
        errors.add(f"{at}.identifier_kind", "Only direct identifiers have an identifier kind.")
    if raw.get("generalise") is not None:
        if role != "quasi_identifier":
            errors.add(f"{at}.generalise", "Only quasi-identifiers have a generalisation rule.")
        column["generalise"] = _generalise(errors, f"{at}.generalise", raw["generalise"])
    if raw.get("concept") is not None:
        column["concept"] = _choice(errors, f"{at}.concept", raw["concept"], voc.CONCEPTS)
    if raw.get("code_system") is not None:
        column["code_system"] = _choice(errors, f"{at}.code_system", raw["code_system"],
                                        voc.CODE_SYSTEMS)
    if raw.get("l_diversity") is not None:
        if role != "sensitive":
            errors.add(f"{at}.l_diversity", "Only sensitive columns have an l-diversity.")
        column["l_diversity"] = _integer(errors, f"{at}.l_diversity", raw["l_diversity"], 2, 100)
    if raw.get("allowed_values") is not None:
        values = _string_list(errors, f"{at}.allowed_values", raw["allowed_values"], limit=5000)
        if not values:
            errors.add(f"{at}.allowed_values", "List at least one value, or leave it out.")
        column["allowed_values"] = list(dict.fromkeys(values))
    if raw.get("pattern") is not None:
        column["pattern"] = _pattern(errors, f"{at}.pattern", raw["pattern"])
    column |= _bounds(errors, at, kind, raw.get("minimum"), raw.get("maximum"))
    return column


def _flag(errors: _Errors, field: str, value: Any, *, default: bool) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        errors.add(field, "Must be true or false.")
        return default
    return value


def _generalise(errors: _Errors, field: str, value: Any) -> dict:
    if not isinstance(value, dict) or value.get("kind") not in voc.GENERALISATIONS:
        errors.add(field, "Unknown generalisation; use one of "
                   + ", ".join(voc.GENERALISATIONS) + ".")
        return {}
    rule = {"kind": value["kind"]}
    for option, allowed in voc.GENERALISATIONS[value["kind"]].items():
        given = value.get(option)
        if given is None and option in OPTIONAL_GENERALISE_OPTIONS:
            continue
        if isinstance(allowed[0], int):
            rule[option] = _integer(errors, f"{field}.{option}", given, *allowed)
        else:
            rule[option] = _choice(errors, f"{field}.{option}", given, allowed)
    if "max_days" in rule and rule.get("to") != "shift":
        errors.add(f"{field}.max_days", "max_days applies only to the date shift (to: shift).")
    for extra in sorted(set(value) - set(rule)):
        errors.add(f"{field}.{extra}", "Unknown generalisation option.")
    return rule


def _pattern(errors: _Errors, field: str, value: Any) -> str | None:
    if not isinstance(value, str) or not value or len(value) > 200:
        errors.add(field, "Must be a regular expression of at most 200 characters.")
        return None
    try:
        re.compile(value)
    except re.error as exc:
        errors.add(field, f"Not a valid regular expression: {exc}.")
    return value


def _bounds(errors: _Errors, at: str, kind: str | None, low: Any, high: Any) -> dict:
    if low is None and high is None:
        return {}
    if kind in ("integer", "number"):
        parsed = [_number(errors, f"{at}.{name}", v, kind)
                  for name, v in (("minimum", low), ("maximum", high))]
    elif kind == "date":
        parsed = [_iso_date(errors, f"{at}.{name}", v)
                  for name, v in (("minimum", low), ("maximum", high))]
    else:
        errors.add(f"{at}.minimum", "Only integer, number and date columns have a range.")
        return {}
    if parsed[0] is not None and parsed[1] is not None and parsed[0] > parsed[1]:
        errors.add(f"{at}.minimum", "The minimum is larger than the maximum.")
    return {name: (v.isoformat() if isinstance(v, date) else v)
            for name, v in (("minimum", parsed[0]), ("maximum", parsed[1])) if v is not None}


def _number(errors: _Errors, field: str, value: Any, kind: str) -> float | int | None:
    if value is None:
        return None
    valid = isinstance(value, int) if kind == "integer" else isinstance(value, (int, float))
    if isinstance(value, bool) or not valid or value != value or abs(value) > 1e15:
        errors.add(field, "Must be a " + ("whole number." if kind == "integer" else "number."))
        return None
    return value


def _subject_column(errors: _Errors, value: Any, columns: list[dict]) -> str | None:
    if value is None:
        # Without it consent could not be checked and k would count rows, not people.
        if any(c.get("identifier_kind") == "cpr" for c in columns):
            errors.add("subject_column", "A dataset with a CPR column must name it as the "
                       "subject column.")
        return None
    match = next((c for c in columns if c["name"] == value), None)
    if match is None:
        errors.add("subject_column", f"{value!r} is not one of the columns.")
    elif match.get("identifier_kind") != "cpr":
        errors.add("subject_column", "The subject column must be a direct identifier of kind "
                   "cpr.")
    return value
