"""Generalisation rules from the descriptor, and their coarser levels."""
from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from marketplace.delivery import generalise


def _labels(values, spec, **kw):
    rule = generalise.Rule(column="c", kind=spec.get("kind", "none"), spec=spec)
    return generalise.base_labels(pd.Series(values), rule, reference=date(2025, 6, 1), **kw)


def test_age_bands_from_ages_and_from_birth_dates():
    assert _labels([3, 44, 45], {"kind": "age_band", "width": 5}).tolist() == [
        "0-4", "40-44", "45-49"]
    born = pd.to_datetime(["1980-06-02", "1980-06-01"])
    assert _labels(born, {"kind": "age_band", "width": 10}).tolist() == ["40-49", "40-49"]
    assert _labels(pd.to_datetime(["1985-06-02"]), {"kind": "age_band", "width": 1}
                   ).tolist() == ["39-39"]


@pytest.mark.parametrize("to, expected", [
    ("year", "2021"), ("month", "2021-03"), ("quarter", "2021-Q1"), ("week", "2021-W10"),
])
def test_dates_to_year_month_quarter_week(to, expected):
    assert _labels(pd.to_datetime(["2021-03-09"]), {"kind": "date", "to": to}).tolist() == [
        expected]


def test_postcodes_to_municipality_and_region():
    assert _labels(["2620", "2100", "9000"], {"kind": "postcode", "to": "municipality"}
                   ).tolist() == ["165", "101", "*"]
    assert _labels(["2620", "9000"], {"kind": "postcode", "to": "region"}).tolist() == [
        "1084", "1081"]


def test_truncation_and_missing_values():
    assert _labels(["DJ441", None], {"kind": "truncate", "chars": 3}).tolist() == ["DJ4", "NA"]


def test_every_ladder_ends_in_full_suppression():
    for spec in ({"kind": "age_band", "width": 5}, {"kind": "date", "to": "month"},
                 {"kind": "postcode", "to": "municipality"}, {"kind": "truncate", "chars": 3},
                 {}):
        rule = generalise.Rule(column="c", kind=spec.get("kind", "none"), spec=spec)
        top = generalise.coarser_levels(rule)[-1]
        assert set(top(pd.Index(["x", "y"]))) == {"*"}


def test_coarser_levels_widen_bands_and_cut_dates():
    rule = generalise.Rule(column="c", kind="age_band", spec={"kind": "age_band", "width": 5})
    labels = _labels([42], rule.spec)
    assert generalise.apply_level(labels, rule, 1).tolist() == ["40-49"]
    month = generalise.Rule(column="c", kind="date", spec={"kind": "date", "to": "month"})
    assert generalise.apply_level(pd.Series(["2021-03"]), month, 1).tolist() == ["2021-Q1"]
    assert generalise.apply_level(pd.Series(["2021-03"]), month, 2).tolist() == ["2021"]


def test_diagnosis_codes_climb_from_code_to_category_to_chapter():
    rule = generalise.Rule(column="c", kind="code", spec={"kind": "code"})
    codes = pd.Series(["DJ441", "DJ449", "J441", "DC341"])
    assert [generalise.apply_level(codes, rule, level).tolist() for level in (1, 2, 3)] == [
        ["DJ44", "DJ44", "J44", "DC34"], ["DJ", "DJ", "J", "DC"], ["*"] * 4]
    assert [generalise.describe_level(rule, level) for level in range(4)] == [
        "full code", "ICD-10 category", "ICD-10 chapter letter", "suppressed"]
