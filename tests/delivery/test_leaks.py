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


# --- the input's own identifiers ------------------------------------------------------------

INPUT = pd.DataFrame({
    "name": ["Anna Sofie Jensen", "Bo Ek", "Jørgen Ølgaard"],
    "address": ["Hovedgaden 12, 2600 Glostrup", "Torvet 1", "Østergade 3B, 1100 København K"],
    "email": ["anna.jensen@post.example", "bo@ek.example", "jo@olgaard.example"],
    "phone": ["+45 20 10 19 01", "33 12 34 56", "004561616161"],
})
KINDS = {"name": "name", "address": "address", "email": "email", "phone": "phone"}


@pytest.mark.parametrize("cell", [
    "Anna Sofie Jensen",
    "Samtale med anna sofie jensen om medicin",
    "Pårørende: ＡＮＮＡ SOFIE  JENSEN",
    "Anna\u200b Sofie Jensen",
    "Bor på Hovedgaden 12",
    "ØSTERGADE 3B, 1100 KØBENHAVN K",
    "skriv til anna.jensen@post.example",
    "ring 20101901",
    "tlf. 20-10-19-01 efter kl. 12",
    "tlf ３３ １２ ３４ ５６",
    "+45 61 61 61 61",
    "Jørgen Ølgaard",
])
def test_an_output_cell_holding_an_inputs_own_identifier_is_a_leak(cell):
    own = leaks.own_identifiers(INPUT, KINDS)
    with pytest.raises(leaks.LeakFound) as found:
        leaks.scan_own_identifiers(pd.DataFrame({"note": [cell, "ok"]}), own)
    assert "note" in str(found.value)
    assert cell not in str(found.value)  # the finding never repeats the identifier


@pytest.mark.parametrize("cell", [
    "Stabil ved udskrivning", "Anna", "Sofie Jensen er ikke nævnt", "Hovedgaden", "Bo",
    "Ek", "kontrol om 3 mdr.", "20101", "betalt 2010 kr. 19.01",
])
def test_cells_without_an_inputs_identifier_pass(cell):
    own = leaks.own_identifiers(INPUT, KINDS)
    leaks.scan_own_identifiers(pd.DataFrame({"note": pd.Categorical([cell, "ok"])}), own)


@pytest.mark.parametrize("cell", [
    "Født 07.03.1985", "født 7/3/85", "1985-03-07", "født 7. marts 1985", "born 7 March 1985",
    "Født ０７.０３.１９８５",
])
def test_a_row_writing_its_own_persons_birth_date_is_a_leak(cell):
    own = leaks.own_identifiers(INPUT.iloc[:0], {})
    births = pd.Series(pd.to_datetime(["1985-03-07", "1990-01-01"]))
    with pytest.raises(leaks.LeakFound) as found:
        leaks.scan_own_identifiers(pd.DataFrame({"note": [cell, "ok"]}), own,
                                   birth_dates=births)
    assert "birth date" in str(found.value)


def test_another_date_or_another_rows_birth_date_is_no_leak():
    own = leaks.own_identifiers(INPUT.iloc[:0], {})
    births = pd.Series(pd.to_datetime(["1985-03-07", "1990-01-01"]))
    frame = pd.DataFrame({"note": ["Kontrol 12.03.2024", "Søster født 07.03.1985"]})
    leaks.scan_own_identifiers(frame, own, birth_dates=births)


def test_a_date_column_equal_to_the_rows_birth_date_is_a_leak_unless_it_is_the_birth_date():
    own = leaks.own_identifiers(INPUT.iloc[:0], {})
    births = pd.Series(pd.to_datetime(["1985-03-07", "1990-01-01"]))
    copy = pd.DataFrame({"born": births, "visit": pd.to_datetime(["2020-01-01", "2021-01-01"])})
    with pytest.raises(leaks.LeakFound):
        leaks.scan_own_identifiers(copy, own, birth_dates=births)
    leaks.scan_own_identifiers(copy, own, birth_dates=births, skip=["born"])
