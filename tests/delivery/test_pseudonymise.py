"""Pseudonyms: keyed, stable within a permit, unlinkable across permits, never CPR-like."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from marketplace.cpr import CPR_IN_TEXT
from marketplace.delivery.pseudonymise import day_offsets, pseudonymise, pseudonyms_of_uniques

KEY_A = bytes(range(32))
KEY_B = bytes(range(1, 33))
cprs = st.lists(
    st.from_regex(r"\A[0-3][0-9][01][0-9]{3}-?[0-9]{4}\Z"), min_size=1, max_size=40
)


@settings(max_examples=60, deadline=None)
@given(cprs)
def test_pseudonyms_are_stable_within_a_permit_and_differ_across_permits(values):
    series = pd.Series(values)
    first = pseudonymise(series, key=KEY_A)
    again = pseudonymise(series.iloc[::-1], key=KEY_A).iloc[::-1]
    other = pseudonymise(series, key=KEY_B)
    assert first.astype(str).tolist() == again.astype(str).tolist()
    canonical = series.str.replace("-", "", regex=False)
    for value in canonical.unique():
        same = first[canonical == value].unique()
        assert len(same) == 1
    assert not (first.astype(str).to_numpy() == other.astype(str).to_numpy()).any()
    distinct_people = canonical.nunique()
    assert first.nunique() == distinct_people


@settings(max_examples=40, deadline=None)
@given(cprs)
def test_a_pseudonym_never_contains_digits_or_the_cpr(values):
    out = pseudonymise(pd.Series(values), key=KEY_A).astype(str)
    for value, pseudonym in zip(values, out, strict=True):
        assert re.fullmatch(r"[a-p]{24}", pseudonym)
        assert not CPR_IN_TEXT.search(pseudonym)
        assert value.replace("-", "") not in pseudonym


def test_hyphen_and_no_hyphen_are_the_same_person():
    out = pseudonymise(pd.Series(["010190-1234", "0101901234", "010190 1234"]), key=KEY_A)
    assert out.nunique() == 1


def test_missing_identifiers_stay_missing():
    out = pseudonymise(pd.Series(["0101901234", None]), key=KEY_A)
    assert out.isna().tolist() == [False, True]


def test_long_identifiers_are_folded_not_truncated():
    long_a, long_b = "x" * 20 + "a", "x" * 20 + "b"
    out = pseudonyms_of_uniques(KEY_A, pd.Index([long_a, long_b]))
    assert out[0] != out[1]


def test_day_offsets_are_bounded_and_per_person():
    values = pd.Series(["0101901234", "0202901234", "0101901234"] * 50)
    offsets = day_offsets(values, key=KEY_A, max_days=10)
    assert np.abs(offsets).max() <= 10
    assert offsets[0] == offsets[2]
    assert not np.array_equal(offsets, day_offsets(values, key=KEY_B, max_days=10))
