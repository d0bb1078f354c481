"""The browser's application form, turned into the JSON the API accepts (one validation path)."""
from __future__ import annotations

import re
from typing import Any

from werkzeug.datastructures import MultiDict

_SPLIT = re.compile(r"[\s,;]+")


FormData = MultiDict[str, str]


def _codes(text: str | None) -> list[str]:
    return [code for code in _SPLIT.split(text or "") if code]


def _number(text: str | None) -> int | str | None:
    text = (text or "").strip()
    if not text:
        return None
    return int(text) if text.isdigit() and len(text) < 10 else text


def form_to_payload(form: FormData) -> dict[str, Any]:
    """Read the form fields; malformed values pass through for the Application model to name."""
    datasets = [{"id": _number(value), "columns": form.getlist(f"columns-{value}")}
                for value in form.getlist("dataset")]
    cohort: dict[str, Any] = {}
    ages = [_number(form.get("age_min")), _number(form.get("age_max"))]
    if any(age is not None for age in ages):
        cohort["age"] = [age if age is not None else default for age, default in zip(
            ages, (0, 130), strict=True)]
    if form.getlist("sex"):
        cohort["sex"] = form.getlist("sex")
    if _codes(form.get("diagnoses")):
        cohort["diagnoses"] = _codes(form.get("diagnoses"))
    if _codes(form.get("municipalities")):
        cohort["municipalities"] = _codes(form.get("municipalities"))
    if form.get("period_start") or form.get("period_end"):
        cohort["period"] = {"start": form.get("period_start", ""),
                            "end": form.get("period_end", "")}
    processors = []
    for line in (form.get("processors") or "").splitlines():
        name, _, role = line.partition(",")
        if name.strip():
            processors.append({"name": name.strip(), "role": role.strip()})
    return {
        "title": form.get("title", ""), "description": form.get("description", ""),
        "purpose": form.get("purpose", ""), "datasets": datasets,
        "diseases": _codes(form.get("diseases")), "cohort": cohort,
        "duration_days": _number(form.get("duration_days")),
        "pseudonymised": form.get("pseudonymised") == "yes",
        "pseudonymisation_justification": form.get("pseudonymisation_justification", ""),
        "safeguards": form.get("safeguards", ""),
        "ethics_approval": form.get("ethics_approval", ""), "processors": processors,
        "test_environment": _number(form.get("test_environment")),
        "test_course": _number(form.get("test_course")),
    }


def payload_to_form(payload: dict[str, Any]) -> dict[str, Any]:
    """Values to re-fill the form with (after an error, or to amend an application)."""
    cohort = payload.get("cohort") or {}
    ages = cohort.get("age") or ["", ""]
    period = cohort.get("period") or {}
    return {
        "title": payload.get("title", ""), "description": payload.get("description", ""),
        "purpose": payload.get("purpose", ""),
        "datasets": {str(entry.get("id")): set(entry.get("columns") or [])
                     for entry in payload.get("datasets") or [] if isinstance(entry, dict)},
        "diseases": " ".join(payload.get("diseases") or []),
        "age_min": ages[0], "age_max": ages[1], "sex": set(cohort.get("sex") or []),
        "diagnoses": " ".join(cohort.get("diagnoses") or []),
        "municipalities": " ".join(cohort.get("municipalities") or []),
        "period_start": period.get("start", ""), "period_end": period.get("end", ""),
        "duration_days": payload.get("duration_days") or "",
        "pseudonymised": bool(payload.get("pseudonymised")),
        "pseudonymisation_justification": payload.get("pseudonymisation_justification", ""),
        "safeguards": payload.get("safeguards", ""),
        "ethics_approval": payload.get("ethics_approval", ""),
        "processors": "\n".join(f"{p.get('name', '')}, {p.get('role', '')}".rstrip(", ")
                                for p in payload.get("processors") or []),
        "test_environment": str(payload.get("test_environment") or ""),
        "test_course": str(payload.get("test_course") or ""),
    }
