"""Automatic output checks: what a checker sees for each kind of output file."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from marketplace.workspace import checks
from marketplace.workspace.checks import OutputRules, check_bytes, check_output

RULES = OutputRules()


def outcomes(data: bytes, name: str = "table.csv", rules: OutputRules = RULES) -> dict[str, str]:
    return {c.rule: c.outcome for c in check_bytes(data, name=name, rules=rules)}


def message(data: bytes, rule: str, name: str = "table.csv", rules: OutputRules = RULES) -> str:
    return next(c.message for c in check_bytes(data, name=name, rules=rules) if c.rule == rule)


def test_a_safe_table_of_counts_passes_every_check(tmp_path):
    path = tmp_path / "table.csv"
    path.write_bytes(b"sex,age_band,n\nfemale,40-49,40\nmale,40-49,35\nmale,50-59,0\n")
    found = check_output(path, name="table.csv", rules=RULES)
    assert {c.rule: c.outcome for c in found} == {
        "file_type": "pass", "file_size": "pass", "cpr": "pass", "record_level": "pass",
        "cell_threshold": "pass"}
    assert all(set(c.to_json()) == {"rule", "outcome", "message", "message_da"} for c in found)


@pytest.mark.parametrize(("name", "data", "outcome"), [
    ("model.pkl", b"\x80\x04", "fail"),
    ("table", b"a,b\n1,2\n", "fail"),
    ("script.py", b"print(1)", "fail"),
    ("sneaky.csv", b"a,b\n\x00\x01\x02", "fail"),
    ("figure.png", b"\x89PNG\r\n", "pass"),
    ("nested/dir/table.csv", b"a,n\nx,10\n", "pass"),
])
def test_only_allowed_file_types_pass(name, data, outcome):
    assert outcomes(data, name)["file_type"] == outcome


def test_the_holders_allowed_types_are_respected():
    rules = OutputRules(allowed_types=frozenset({"csv"}))
    assert outcomes(b"hello", "notes.txt", rules)["file_type"] == "fail"


def test_sizes_above_the_limit_fail_and_empty_files_warn(tmp_path):
    path = tmp_path / "big.txt"
    path.write_bytes(b"x" * 2048)
    found = check_output(path, name="big.txt", rules=OutputRules(max_bytes=1024))
    assert {c.rule: c.outcome for c in found}["file_size"] == "fail"
    assert outcomes(b"", "empty.txt")["file_size"] == "warn"


@pytest.mark.parametrize("cpr", [
    "010190-1234", "01.01.90\u20131234", "0101\u200b901234",
    "\uff10\uff11\uff10\uff11\uff19\uff10\uff11\uff12\uff13\uff14", "01-01-1990-1234",
])
def test_cpr_numbers_in_any_spelling_fail(cpr):
    assert outcomes(f"note,n\n{cpr},10\n".encode(), "table.csv")["cpr"] == "fail"
    assert outcomes(f"Patient {cpr}".encode(), "log.txt")["cpr"] == "fail"


def test_phone_numbers_and_amounts_do_not_fail_the_cpr_check():
    text = b"Kontakt +45 20 10 19 01. Udgift 2.101.901.234 kr."
    assert outcomes(text, "notes.md")["cpr"] == "pass"


def test_a_pseudonym_column_is_record_level():
    data = b"pseudonym,sex\nabcdefghijklmnopabcdefgh,female\n"
    assert outcomes(data)["record_level"] == "fail"
    assert "pseudonym" in message(data, "record_level")


def test_pseudonym_like_values_are_record_level_whatever_the_column_is_called():
    rows = "\n".join(f"{'abcdefghijklmnop'[i % 16] * 24},{i % 2}" for i in range(30))
    assert outcomes(f"who,flag\n{rows}\n".encode())["record_level"] == "fail"
    ids = "\n".join(f"5f0c6a2e-1d3b-4c8e-9a7f-00000000{i:04d},1" for i in range(30))
    assert outcomes(f"person,x\n{ids}\n".encode())["record_level"] == "fail"


def test_a_table_as_long_as_the_cohort_is_record_level():
    rows = "\n".join(f"{i},{i % 90}" for i in range(480))
    rules = OutputRules(cohort_size=500)
    assert outcomes(f"row_number,age\n{rows}\n".encode(), rules=rules)["record_level"] == "fail"


def test_many_rows_without_counts_and_a_distinct_value_per_row_warn():
    rows = "\n".join(f"visit {i},{i * 1.5}" for i in range(150))
    assert outcomes(f"visit,weight\n{rows}\n".encode())["record_level"] == "warn"


def test_cells_under_the_threshold_fail_with_their_place():
    data = b"region,antal\nHovedstaden,40\nBornholm,3\nSjaelland,0\n"
    assert outcomes(data)["cell_threshold"] == "fail"
    assert "antal row 2" in message(data, "cell_threshold")
    danish = next(c.message_da for c in check_bytes(data, name="t.csv", rules=RULES)
                  if c.rule == "cell_threshold")
    assert "færre end 5 personer" in danish and "række 2" in danish


def test_the_holders_threshold_decides():
    data = b"region,n\nA,7\nB,40\n"
    assert outcomes(data)["cell_threshold"] == "pass"
    assert outcomes(data, rules=OutputRules(cell_threshold=10))["cell_threshold"] == "fail"


def test_a_crosstab_of_unnamed_counts_is_checked_cell_by_cell():
    data = b"sex,2019,2020,2021\nfemale,40,38,2\nmale,35,30,29\n"
    assert outcomes(data)["cell_threshold"] == "fail"


def test_danish_spreadsheets_with_semicolons_and_decimal_commas_are_read():
    data = "kommune;antal;gennemsnit\nKøbenhavn;40;12,5\nDragør;2;11,0\n".encode()
    found = outcomes(data)
    assert found["cell_threshold"] == "fail"


@pytest.mark.parametrize(("row", "outcome"), [
    ("1000,500,100", "pass"),       # the two largest are 60 %
    ("1000,700,250", "fail"),       # N-K: the two largest are 95 %
    ("1000,880,100", "fail"),       # p %: the rest (20) is under 10 % of the largest (88)
])
def test_dominance_in_magnitude_tables(row, outcome):
    data = f"group,total,largest_1,largest_2,n\ng,{row},40\n".encode()
    assert outcomes(data)["dominance"] == outcome


def test_a_magnitude_table_without_contributions_warns_that_dominance_is_unchecked():
    data = b"group,total_cost,n\nA,1200000.5,40\nB,99000.25,12\n"
    found = outcomes(data)
    assert found["dominance"] == "warn"
    assert found["cell_threshold"] == "pass"


def test_minimum_and_maximum_are_flagged_as_one_persons_value():
    data = b"group,n,mean_age,max_age\nA,40,51.5,97\n"
    assert outcomes(data)["extremes"] == "warn"


def test_images_and_pdf_need_a_human():
    for name in ("plot.png", "report.pdf", "chart.svg"):
        assert outcomes(b"%PDF-1.7 whatever", name)["human_review"] == "warn"


def test_json_tables_are_checked_like_csv():
    records = [{"sex": "female", "n": 40}, {"sex": "male", "n": 2}]
    assert outcomes(json.dumps(records).encode(), "table.json")["cell_threshold"] == "fail"
    split = {"columns": ["sex", "n"], "data": [["female", 40], ["male", 35]]}
    assert outcomes(json.dumps(split).encode(), "table.json")["cell_threshold"] == "pass"


@pytest.mark.parametrize(("name", "data"), [
    ("broken.csv", b'a,b\n"unterminated,1\n'),
    ("deep.json", b"[" * 100_000),
    ("odd.csv", b"\xff\xfe\xfd,\n,,,,\n"),
    ("ragged.csv", b"a,b,c\n1\n2,3,4,5,6\n"),
    ("header.csv", b"only,a,header\n"),
    ("nan.csv", b"a,n\nx,nan\ny,inf\n"),
])
def test_hostile_and_malformed_files_never_break_the_checks(name, data):
    found = outcomes(data, name)
    assert found["file_type"] == "pass"
    assert set(found.values()) <= {"pass", "warn", "fail"}


def test_summary_outcome_is_the_worst():
    assert checks.summary_outcome([checks.Check("a", "pass", ""), {"outcome": "warn"}]) == "warn"
    assert checks.summary_outcome([{"outcome": "fail"}, {"outcome": "pass"}]) == "fail"
    assert checks.summary_outcome([]) == "pass"


def test_a_thousand_cell_table_is_checked_well_under_100_ms():
    rows = "\n".join(f"r{r}," + ",".join(str((r * 7 + c) % 60) for c in range(10))
                     for r in range(100))
    data = ("region," + ",".join(f"n{c}" for c in range(10)) + "\n" + rows + "\n").encode()
    check_bytes(data, name="warm.csv", rules=RULES)
    start = time.perf_counter()
    check_bytes(data, name="t.csv", rules=RULES)
    assert time.perf_counter() - start < 0.1


ACRO_SCRIPT = textwrap.dedent("""
    import sys
    import pandas as pd
    from acro import ACRO
    acro = ACRO(suppress=False)
    df = pd.DataFrame({"sex": ["f"] * 30 + ["m"] * 4, "region": ["a", "b"] * 17})
    acro.crosstab(df.sex, df.region)
    acro.add_exception("output_0", "Cellen for mænd er strukturel")
    safe = pd.DataFrame({"sex": ["f"] * 60 + ["m"] * 60, "region": ["a", "b"] * 60})
    acro.crosstab(safe.sex, safe.region)
    acro.add_comments("output_1", "Fordeling på køn og region")
    acro.finalise(sys.argv[1], "json")
""")


@pytest.fixture(scope="module")
def acro_outputs(tmp_path_factory) -> Path:
    """A real ACRO session's output folder (results.json, config.json and the tables)."""
    folder = tmp_path_factory.mktemp("acro")
    script = folder / "analysis.py"
    script.write_text(ACRO_SCRIPT)
    subprocess.run([sys.executable, str(script), str(folder / "out")], check=True,
                   capture_output=True, timeout=300, cwd=folder)
    return folder / "out"


def test_acro_results_are_read_and_shown_per_output(acro_outputs):
    results = checks.read_acro_results(acro_outputs)
    assert results is not None and results["config"]["safe_threshold"] == 10
    rules = OutputRules(acro_results=results)
    failing = {c.rule: c for c in check_output(acro_outputs / "output_0_0.csv",
                                               name="output_0_0.csv", rules=rules)}
    assert failing["acro"].outcome == "warn"  # failed, with the researcher's exception
    assert "Cellen for mænd er strukturel" in failing["acro"].message
    assert failing["cell_threshold"].outcome == "fail"
    assert "ACRO counted" in failing["cell_threshold"].message
    passing = {c.rule: c for c in check_output(acro_outputs / "output_1_0.csv",
                                               name="output_1_0.csv", rules=rules)}
    assert passing["acro"].outcome == "pass"
    assert passing["cell_threshold"].outcome == "pass"
    summary = checks.acro_summary(checks.acro_entry(results, "output_1_0.csv"))
    assert summary["comments"] == ["Fordeling på køn og region"]


def test_a_lower_acro_threshold_than_the_holders_is_not_trusted(acro_outputs):
    results = checks.read_acro_results(acro_outputs)
    results["config"]["safe_threshold"] = 3
    rules = OutputRules(acro_results=results, cell_threshold=5)
    found = {c.rule: c for c in check_output(acro_outputs / "output_1_0.csv",
                                             name="output_1_0.csv", rules=rules)}
    assert "ACRO counted" not in found["cell_threshold"].message


def test_a_failing_acro_output_without_exception_fails():
    entry = {"uid": "output_3", "status": "fail", "files": [{"name": "t.csv", "sdc": {
        "summary": {"MinimumThresholdCheck": 2}}}], "exception": "", "comments": []}
    found = checks.acro_check(entry)
    assert (found.outcome, found.message) == ("fail", "ACRO output_3: fail "
                                                      "(MinimumThresholdCheck 2)")
    assert checks.acro_entry({"results": "nonsense"}, "t.csv") is None
    assert checks.acro_entry(None, "t.csv") is None
