"""The /statistics page's form fields and the shape of a result for the page."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from markupsafe import Markup

from marketplace.catalog import vocabulary as voc
from marketplace.languages import N_
from marketplace.statistics import tables
from marketplace.web.charts import bar_chart
from marketplace.web.i18n import gettext as _

# Derived groups offered on the form (Danish labels); dataset columns can be typed too.
GROUP_CHOICES: tuple[tuple[str, str], ...] = (
    ("age_band", N_("Aldersgruppe (10 år)")),
    ("sex", N_("Køn")),
    ("municipality", N_("Kommune")),
    ("region", N_("Region")),
    ("year", N_("År")),
    ("quarter", N_("Kvartal")),
    ("icd10_chapter", N_("ICD-10-kapitel")),
)
MEASURE_CHOICES = ("count_persons", "count_rows", "mean", "median")
MEASURE_NAMES = {"count_persons": N_("Antal personer"), "count_rows": N_("Antal rækker"),
                 "mean": N_("Gennemsnit af {column}"), "median": N_("Median af {column}")}
_TEXT_FIELDS = ("title", "purpose", "description", "dataset", "age_min", "age_max",
                "diagnoses", "municipalities", "period_start", "period_end", "method",
                "epsilon", "measure_column", "extra_group")
MAX_CHART_BARS = 24


def empty_values() -> dict[str, Any]:
    return {**{name: "" for name in _TEXT_FIELDS}, "method": "sdc", "sex": [],
            "measures": ["count_persons"], "group_by": []}


def form_values(form: Any) -> dict[str, Any]:
    """What the person typed, kept to show the form again."""
    values = {name: str(form.get(name, "")).strip()[:10_000] for name in _TEXT_FIELDS}
    values["sex"] = form.getlist("sex")[:2]
    values["measures"] = form.getlist("measures")[:4]
    values["group_by"] = form.getlist("group_by")[:8]
    return values


def _codes(text: str) -> list[str]:
    return [part for part in text.replace(";", ",").replace(" ", ",").split(",") if part]


def _number(text: str) -> Any:
    """A number typed in a form field (left as text when it is none, for a clear error)."""
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def form_body(values: Mapping[str, Any]) -> dict[str, Any]:
    """The API body the form stands for (validated by the same model as the API)."""
    column = values["measure_column"] or None
    measures = [{"kind": kind, **({"column": column} if kind in ("mean", "median") else {})}
                for kind in values["measures"]]
    group_by = list(values["group_by"])
    group_by += [name for name in _codes(values["extra_group"]) if name not in group_by]
    cohort: dict[str, Any] = {}
    if values["age_min"] or values["age_max"]:
        cohort["age"] = [_number(values["age_min"] or "0"), _number(values["age_max"] or "130")]
    if values["sex"]:
        cohort["sex"] = values["sex"]
    if values["diagnoses"]:
        cohort["diagnoses"] = _codes(values["diagnoses"])
    if values["municipalities"]:
        cohort["municipalities"] = _codes(values["municipalities"])
    if values["period_start"] or values["period_end"]:
        cohort["period"] = {k: values[f"period_{k}"] for k in ("start", "end")
                            if values[f"period_{k}"]}
    body: dict[str, Any] = {
        "title": values["title"], "purpose": values["purpose"],
        "description": values["description"], "dataset": _number(values["dataset"] or "0"),
        "measures": measures, "group_by": group_by, "cohort": cohort,
        "method": values["method"] or "sdc",
    }
    if body["method"] == "dp" and values["epsilon"]:
        body["epsilon"] = _number(values["epsilon"])
    return body


def column_label(name: str, groups: Sequence[str]) -> str:
    """A result column in words: the grouping's name, or the measure ("Gennemsnit af alder")."""
    if name in groups:
        label = dict(GROUP_CHOICES).get(name)
        return _(label) if label else name
    if name in MEASURE_NAMES:
        return _(MEASURE_NAMES[name])
    kind, _sep, column = name.partition("_")
    return _(MEASURE_NAMES[kind], column=column) if kind in ("mean", "median") else name


def value_label(group: str, value: Any) -> str:
    """A group's value in words: municipality and region names, ICD-10 chapter titles."""
    text = str(value)
    if text == tables.UNKNOWN:
        return _("Ukendt")
    if group == "municipality":
        return voc.MUNICIPALITY_NAMES.get(text, text)
    if group == "region" and text in voc.REGION_NAMES:
        return _(voc.REGION_NAMES[text])
    if group == "icd10_chapter" and text in tables.ICD10_CHAPTER_NAMES:
        return f"{text} {_(tables.ICD10_CHAPTER_NAMES[text])}"
    return text


def result_view(data: Mapping[str, Any]) -> dict[str, Any]:
    """Rows for the page's table (margins named "I alt", suppressed cells marked) and a bar
    chart of the first measure over the first grouping's values."""
    result = data.get("result")
    if not result:
        return {"rows": [], "columns": [], "chart": None}
    group_names = list(data.get("group_by") or [])
    groups = len(group_names)
    rows = []
    for row in result["rows"]:
        labels = [_("I alt") if value is None else value_label(name, value)
                  for name, value in zip(group_names, row[:groups], strict=False)]
        rows.append({"labels": labels, "values": row[groups:],
                     "margin": any(value is None for value in row[:groups])})
    chart: Markup | None = None
    measure = result["columns"][groups] if len(result["columns"]) > groups else None
    if measure is not None:
        if groups:
            bars = [(" · ".join(r["labels"][:1]), float(r["values"][0]))
                    for r in rows
                    if r["values"][0] is not None and r["labels"][0] != _("I alt")
                    and all(label == _("I alt") for label in r["labels"][1:])]
        else:
            bars = [(_("I alt"), float(rows[0]["values"][0]))] if rows and \
                rows[0]["values"][0] is not None else []
        if bars:
            chart = bar_chart(bars[:MAX_CHART_BARS], title=_(
                "{measure} pr. gruppe", measure=column_label(measure, group_names)))
    columns = [column_label(name, group_names) for name in result["columns"]]
    return {"rows": rows, "columns": columns, "groups": groups, "chart": chart}
