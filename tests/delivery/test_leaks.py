"""The leak scan stops CPR numbers and direct identifiers; free text is redacted first."""
from __future__ import annotations

import pandas as pd
import pytest

from marketplace.delivery import leaks


@pytest.mark.parametrize("value", [
    "Patient 010190-1234 udskrevet", "0101901234", "ring 010190 1234", "cpr:3112991235.",
])
def test_scan_fails_on_cpr_numbers_in_text(value):
    with pytest.raises(leaks.LeakFound) as found:
        leaks.scan(pd.DataFrame({"note": [value, "ok"]}), forbidden_columns=[])
    assert "note" in str(found.value)


def test_scan_fails_on_cpr_numbers_hidden_in_integers():
    with pytest.raises(leaks.LeakFound):
        leaks.scan(pd.DataFrame({"n": [101901234, 5]}), forbidden_columns=[])


def test_scan_fails_when_a_direct_identifier_column_survived():
    with pytest.raises(leaks.LeakFound) as found:
        leaks.scan(pd.DataFrame({"name": ["Anne"]}), forbidden_columns=["name"])
    assert "name" in found.value.findings[0]


@pytest.mark.parametrize("value", ["12345678901", "320190-1234", "Stabil", "2020-01-01"])
def test_scan_passes_values_that_are_not_cpr_numbers(value):
    result = leaks.scan(pd.DataFrame({"note": [value]}), forbidden_columns=["cpr"])
    assert result.columns_scanned == 1


def test_redaction_replaces_cpr_numbers_in_free_text():
    out = leaks.redact_cprs(pd.Series(["Set 010190-1234 og 0202901234", "Ingen"]))
    assert out.tolist() == ["Set [CPR] og [CPR]", "Ingen"]
    leaks.scan(pd.DataFrame({"note": out}), forbidden_columns=[])


@pytest.mark.parametrize("value", [
    "01.01.90-1234", "01-01-1990-1234", "010190\u20131234", "0101\u200b901234",
    "\uff10\uff11\uff10\uff11\uff19\uff10\uff0d\uff11\uff12\uff13\uff14", "010190\u00a01234",
])
def test_scan_fails_on_cpr_numbers_in_any_spelling(value):
    with pytest.raises(leaks.LeakFound):
        leaks.scan(pd.DataFrame({"note": [value, "ok"]}), forbidden_columns=[])


@pytest.mark.parametrize("value", ["+45 20 10 19 01", "2.101.901.234 kr", "tlf 0045 2010 1901"])
def test_scan_passes_phone_numbers_and_amounts(value):
    leaks.scan(pd.DataFrame({"note": [value]}), forbidden_columns=[])


def test_redaction_catches_unusual_spellings_too():
    out = leaks.redact_cprs(pd.Series(["Se 01.01.90\u20131234", "Se 01.01.90\u20131234", None]))
    assert out.tolist()[:2] == ["Se [CPR]", "Se [CPR]"]
