"""Reading an access application from JSON or a form: shape, sizes and formats.

Pure module. Whether the named datasets, columns, purpose and test environment exist is the
service's question; here every field is checked for what it can be on its own, and all problems
are reported together as one Invalid with an entry per field.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from marketplace.access.decisions import normalise_disease_code
from marketplace.cpr import contains_cpr
from marketplace.errors import Invalid

MAX_DATASETS = 20
MAX_COLUMNS = 300  # per dataset; far above any descriptor we hold
MAX_CODES = 100
MAX_PROCESSORS = 50
MAX_DURATION_DAYS = 3650  # EHDS Art. 68(12): a permit lasts at most ten years
TEXT_LIMITS = {"title": 200, "description": 10_000, "safeguards": 5_000,
               "pseudonymisation_justification": 5_000, "ethics_approval": 200}
COHORT_KEYS = ("age", "sex", "diagnoses", "municipalities", "period")
SEXES = ("male", "female")
_MUNICIPALITY = re.compile(r"^[0-9]{3}$")
_COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


@dataclass(frozen=True)
class DatasetChoice:
    dataset_id: int
    columns: tuple[str, ...]


@dataclass(frozen=True)
class Application:
    title: str
    description: str
    purpose: str
    datasets: tuple[DatasetChoice, ...]
    diseases: tuple[str, ...]
    cohort: dict[str, Any]
    duration_days: int
    pseudonymised: bool
    pseudonymisation_justification: str
    safeguards: str
    ethics_approval: str
    processors: tuple[dict[str, str], ...]
    test_environment_id: int | None
    test_course_id: int | None = None


class _Errors:
    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []

    def add(self, field: str, message: str) -> None:
        self.items.append({"field": field, "message": message})


def parse_application(data: Any) -> Application:
    """Read an application; raise Invalid listing every malformed field."""
    errors = _Errors()
    if not isinstance(data, Mapping):
        raise Invalid("the application must be a JSON object",
                      errors=[{"field": "", "message": "expected a JSON object"}])
    texts = {name: _text(data, name, limit, errors, required=name in ("title", "description"))
             for name, limit in TEXT_LIMITS.items()}
    purpose = data.get("purpose")
    if not isinstance(purpose, str) or not purpose.strip():
        errors.add("purpose", "choose a purpose from /api/v1/purposes")
        purpose = ""
    application = Application(
        title=texts["title"], description=texts["description"], purpose=purpose.strip(),
        datasets=_datasets(data.get("datasets"), errors),
        diseases=_codes(data.get("diseases", []), "diseases", errors),
        cohort=_cohort(data.get("cohort", {}), errors),
        duration_days=_duration(data.get("duration_days"), errors),
        pseudonymised=_flag(data.get("pseudonymised", False), "pseudonymised", errors),
        pseudonymisation_justification=texts["pseudonymisation_justification"],
        safeguards=texts["safeguards"], ethics_approval=texts["ethics_approval"],
        processors=_processors(data.get("processors", []), errors),
        test_environment_id=_optional_id(data.get("test_environment"), "test_environment",
                                         "a test environment", errors),
        test_course_id=_optional_id(data.get("test_course"), "test_course", "a test course",
                                    errors))
    if errors.items:
        fields = ", ".join(dict.fromkeys(item["field"] for item in errors.items))
        raise Invalid(f"the application has invalid fields: {fields}", errors=errors.items)
    return application


def _text(data: Mapping, name: str, limit: int, errors: _Errors, *, required: bool) -> str:
    value = data.get(name, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors.add(name, "must be text")
        return ""
    value = value.strip()
    if required and not value:
        errors.add(name, "is required")
    elif len(value) > limit:
        errors.add(name, f"at most {limit} characters")
    elif contains_cpr(value):
        errors.add(name, "remove CPR numbers from the text")
    return value


def _flag(value: Any, name: str, errors: _Errors) -> bool:
    if not isinstance(value, bool):
        errors.add(name, "must be true or false")
        return False
    return value


def _integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) < 10:
        return int(value)
    return None


def _optional_id(value: Any, name: str, what: str, errors: _Errors) -> int | None:
    if value in (None, ""):
        return None
    number = _integer(value)
    if number is None or number < 1:
        errors.add(name, f"must be the id of {what}")
    return number


def _duration(value: Any, errors: _Errors) -> int:
    days = _integer(value)
    if days is None:
        errors.add("duration_days", "give the duration in whole days")
        return 0
    if not 1 <= days <= MAX_DURATION_DAYS:
        errors.add("duration_days", f"must be between 1 and {MAX_DURATION_DAYS} days (ten years)")
    return days


def _datasets(value: Any, errors: _Errors) -> tuple[DatasetChoice, ...]:
    if not isinstance(value, list) or not value:
        errors.add("datasets", "name at least one dataset")
        return ()
    if len(value) > MAX_DATASETS:
        errors.add("datasets", f"at most {MAX_DATASETS} datasets per application")
        return ()
    choices: list[DatasetChoice] = []
    for index, entry in enumerate(value):
        field = f"datasets[{index}]"
        if not isinstance(entry, Mapping):
            errors.add(field, "expected {\"id\": ..., \"columns\": [...]}")
            continue
        dataset_id = _integer(entry.get("id", entry.get("dataset_id")))
        if dataset_id is None or dataset_id < 1:
            errors.add(f"{field}.id", "must be a dataset id")
            continue
        columns = _columns(entry.get("columns"), f"{field}.columns", errors)
        if any(choice.dataset_id == dataset_id for choice in choices):
            errors.add(f"{field}.id", f"dataset {dataset_id} is named twice")
        choices.append(DatasetChoice(dataset_id, columns))
    return tuple(choices)


def _columns(value: Any, field: str, errors: _Errors) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        errors.add(field, "name at least one column")
        return ()
    if len(value) > MAX_COLUMNS:
        errors.add(field, f"at most {MAX_COLUMNS} columns per dataset")
        return ()
    if not all(isinstance(name, str) and _COLUMN.match(name) for name in value):
        errors.add(field, "column names are letters, digits and _")
        return ()
    if len(set(value)) != len(value):
        errors.add(field, "a column is named twice")
    return tuple(dict.fromkeys(value))


def _codes(value: Any, field: str, errors: _Errors) -> tuple[str, ...]:
    if not isinstance(value, list):
        errors.add(field, "expected a list of ICD-10 codes")
        return ()
    if len(value) > MAX_CODES:
        errors.add(field, f"at most {MAX_CODES} codes")
        return ()
    codes = []
    for code in value:
        try:
            codes.append(normalise_disease_code(code))
        except ValueError:
            errors.add(field, f"not an ICD-10 code: {str(code)[:20]!r}")
    return tuple(dict.fromkeys(codes))


def _cohort(value: Any, errors: _Errors) -> dict[str, Any]:
    if value in (None, ""):
        return {}
    if not isinstance(value, Mapping):
        errors.add("cohort", "expected an object")
        return {}
    unknown = sorted(set(value) - set(COHORT_KEYS))
    if unknown:
        errors.add("cohort", f"unknown criteria: {', '.join(map(str, unknown))[:100]}")
    cohort: dict[str, Any] = {}
    if value.get("age") not in (None, []):
        cohort["age"] = _age(value["age"], errors)
    if value.get("sex") not in (None, []):
        sexes = value["sex"]
        if not isinstance(sexes, list) or not set(sexes) <= set(SEXES):
            errors.add("cohort.sex", "choose among male and female")
        else:
            cohort["sex"] = sorted(set(sexes))
    if value.get("diagnoses") not in (None, []):
        cohort["diagnoses"] = list(_codes(value["diagnoses"], "cohort.diagnoses", errors))
    if value.get("municipalities") not in (None, []):
        cohort["municipalities"] = _municipalities(value["municipalities"], errors)
    if value.get("period") not in (None, {}):
        cohort["period"] = _period(value["period"], errors)
    return cohort


def _age(value: Any, errors: _Errors) -> list[int]:
    if (not isinstance(value, list) or len(value) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
        errors.add("cohort.age", "expected [minimum, maximum] in whole years")
        return []
    low, high = value
    if not 0 <= low <= high <= 130:
        errors.add("cohort.age", "ages lie between 0 and 130, minimum first")
    return [low, high]


def _municipalities(value: Any, errors: _Errors) -> list[str]:
    if not isinstance(value, list) or len(value) > MAX_CODES:
        errors.add("cohort.municipalities", f"expected at most {MAX_CODES} municipality codes")
        return []
    codes = [str(code) for code in value]
    if not all(_MUNICIPALITY.match(code) for code in codes):
        errors.add("cohort.municipalities", "municipality codes have three digits, e.g. 101")
    return sorted(set(codes))


def _period(value: Any, errors: _Errors) -> dict[str, str]:
    if not isinstance(value, Mapping):
        errors.add("cohort.period", "expected {\"start\": date, \"end\": date}")
        return {}
    bounds: dict[str, date] = {}
    for key in ("start", "end"):
        try:
            bounds[key] = date.fromisoformat(str(value.get(key)))
        except ValueError:
            errors.add(f"cohort.period.{key}", "expected a date such as 2024-01-31")
    if len(bounds) == 2 and bounds["start"] > bounds["end"]:
        errors.add("cohort.period", "the period ends before it starts")
    return {key: day.isoformat() for key, day in bounds.items()}


def _processors(value: Any, errors: _Errors) -> tuple[dict[str, str], ...]:
    if not isinstance(value, list) or len(value) > MAX_PROCESSORS:
        errors.add("processors", f"expected a list of at most {MAX_PROCESSORS} people")
        return ()
    people = []
    for index, person in enumerate(value):
        if isinstance(person, str):
            person = {"name": person}
        if not isinstance(person, Mapping) or not isinstance(person.get("name"), str):
            errors.add(f"processors[{index}]", "expected {\"name\", \"role\"?, \"email\"?}")
            continue
        entry = {key: str(person.get(key) or "").strip()[:200] for key in ("name", "role", "email")}
        if not entry["name"]:
            errors.add(f"processors[{index}].name", "is required")
            continue
        people.append(entry)
    return tuple(people)
