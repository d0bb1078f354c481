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


# --- CPR numbers in text, in every spelling ----------------------------------------------------

from marketplace.cpr import contains_cpr, find_cprs, scrub_cpr  # noqa: E402

SPELLINGS = [
    ("plain", "0101901234"),
    ("hyphen", "010190-1234"),
    ("space", "010190 1234"),
    ("spaced hyphen", "010190 - 1234"),
    ("dotted date", "01.01.90-1234"),
    ("slashed date", "01/01/90 1234"),
    ("spaced date", "01 01 90 1234"),
    ("all pairs", "01 01 90 12 34"),
    ("four-digit year", "01-01-1990-1234"),
    ("four-digit year joined", "01011990-1234"),
    ("en dash", "010190\u20131234"),
    ("em dash", "010190\u20141234"),
    ("minus sign", "010190\u22121234"),
    ("non-breaking hyphen", "010190\u20111234"),
    ("no-break space", "010190\u00a01234"),
    ("narrow no-break space", "010190\u202f1234"),
    ("full-width digits", "\uff10\uff11\uff10\uff11\uff19\uff10\uff0d\uff11\uff12\uff13\uff14"),
    ("Arabic-Indic digits", "\u0660\u0661\u0660\u0661\u0669\u0660\u0661\u0662\u0663\u0664"),
    ("Persian digits", "\u06f0\u06f1\u06f0\u06f1\u06f9\u06f0-\u06f1\u06f2\u06f3\u06f4"),
    ("zero-width space inside", "0101\u200b901234"),
    ("zero-width joiner by the hyphen", "010190\u200d-\u200d1234"),
    ("soft hyphen inside", "01019\u00ad01234"),
    ("byte-order mark inside", "010\ufeff1901234"),
    ("in a sentence", "Patienten (cpr.nr. 010190-1234) blev udskrevet."),
    ("after a colon", "cpr:3112991235."),
    ("in a CSV row", "7,010190-1234,K21"),
]


@pytest.mark.parametrize(("spelling", "text"), SPELLINGS, ids=[s for s, _ in SPELLINGS])
def test_every_spelling_of_a_cpr_number_is_found(spelling: str, text: str) -> None:
    assert contains_cpr(text), spelling
    found = find_cprs(text)
    assert [f.cpr for f in found] in (["0101901234"], ["3112991235"])
    scrubbed = scrub_cpr(text)
    assert "[CPR]" in scrubbed and not contains_cpr(scrubbed)


NOT_CPR = [
    ("Danish phone with country code", "+45 20 10 19 01"),
    ("phone with 0045", "tlf 0045 2010 1901"),
    ("two phone numbers", "20 10 19 01 23 45 67 89"),
    ("amount with thousands points", "2.101.901.234 kr."),
    ("amount with thousands spaces", "2 101 901 234 kr."),
    ("account number", "konto 12070385123456"),
    ("twelve digits unseparated", "010119901234"),
    ("date and time", "2020-01-01 12:34"),
    ("impossible date", "320190-1234"),
    ("year disagrees with the century digit", "01-01-1990-5234"),
    ("counts in a table", "12,34,56,78,90"),
    ("decimal", "0.1019012345"),
]


@pytest.mark.parametrize(("kind", "text"), NOT_CPR, ids=[k for k, _ in NOT_CPR])
def test_ordinary_numbers_are_not_taken_for_cpr_numbers(kind: str, text: str) -> None:
    assert not contains_cpr(text), kind
    assert scrub_cpr(text) == text


def test_scrubbing_keeps_the_rest_of_the_text_in_place() -> None:
    text = "A\u00a0010190\u20131234 og ０１０１９０１２３４ samt 5 personer"
    assert scrub_cpr(text) == "A\u00a0[CPR] og [CPR] samt 5 personer"


def test_a_found_number_does_not_show_itself_in_its_repr() -> None:
    assert "0101901234" not in repr(find_cprs("010190-1234"))
