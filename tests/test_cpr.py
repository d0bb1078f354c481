"""CPR validation: format, real dates and the century rule; never modulus 11."""

from datetime import date

import pandas as pd
import pytest

from marketplace.cpr import (
    CPR_IN_TEXT,
    birth_date,
    is_valid_cpr,
    mask_cpr,
    normalise_cpr,
    sex_of,
    valid_cpr_mask,
)


@pytest.mark.parametrize(
    ("cpr", "born"),
    [
        ("070385-1234", date(1985, 3, 7)),     # 7th digit 1: 1900s
        ("0101004000", date(2000, 1, 1)),      # 4 with YY 00-36: 2000s
        ("0101404000", date(1940, 1, 1)),      # 4 with YY 37-99: 1900s
        ("0101905000", date(1890, 1, 1)),      # 5-8 with YY 58-99: 1800s
        ("0101105000", date(2010, 1, 1)),      # 5-8 with YY 00-36: 2000s
        ("2902009000", date(2000, 2, 29)),     # leap day in 2000
        ("010107 1239", date(1907, 1, 1)),     # space separator
    ],
)
def test_valid_cpr_numbers_give_their_birth_date(cpr: str, born: date) -> None:
    assert birth_date(normalise_cpr(cpr)) == born


@pytest.mark.parametrize(
    "cpr",
    ["", "123", "0101405000",  # 5-8 with YY 37-57 is no valid century
     "3102851234", "2902011234", "00018512345", "abcdefghij", "0703851234x", "07-0385-1234"],
)
def test_invalid_cpr_numbers_are_refused(cpr: str) -> None:
    assert not is_valid_cpr(cpr)
    with pytest.raises(ValueError):
        normalise_cpr(cpr)


def test_modulus_11_failures_are_still_valid() -> None:
    # 070385-1235 fails the old modulus-11 check but numbers since 2007 may do so legitimately.
    assert is_valid_cpr("0703851235")


def test_sex_and_mask() -> None:
    assert sex_of("0703851234") == "female"
    assert sex_of("0703851233") == "male"
    assert mask_cpr("0703851234") == "070385-XXXX"


def test_vectorised_mask_agrees_with_the_scalar_rule() -> None:
    values = ["0703851234", "070385-1234", "0101405000", "3102851234", None, "12345", "0101905000"]
    expected = [is_valid_cpr(v) if v else False for v in values]
    assert valid_cpr_mask(pd.Series(values)).tolist() == expected


def test_cpr_in_text_finds_numbers_but_not_longer_digit_runs() -> None:
    text = "Pt. 070385-1234 ringede; konto 12070385123456 og tlf 0703851234."
    found = ["".join(m.groups()) for m in CPR_IN_TEXT.finditer(text)]
    assert found == ["0703851234", "0703851234"]
