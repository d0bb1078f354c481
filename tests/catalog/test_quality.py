"""Validation with Great Expectations: checks from the column dictionary, rows not values."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd

from marketplace.catalog.quality import QualityAccumulator, plan_checks
from tests.catalog.conftest import COLUMNS
from tests.conftest import TEST_MASTER_KEY as MASTER_KEY


def _frame(**changes) -> pd.DataFrame:
    frame = pd.DataFrame({
        "cpr": ["0703851234", "0101701235", "0703851234"],
        "birth_date": ["1985-03-07", "1970-01-01", "1985-03-07"],
        "sex": ["female", "male", "female"],
        "admitted": ["2020-05-01", "2021-01-02", "2022-02-03"],
        "diagnosis": ["DJ441", "DJ449", "DI500"],
        "days": ["3", "10", "1"],
    })
    for column, values in changes.items():
        frame[column] = values
    return frame


def _report(*frames: pd.DataFrame, columns=COLUMNS) -> dict:
    quality = QualityAccumulator(columns)
    for frame in frames:
        quality.add(frame)
    return quality.finish()


def _failed(report: dict) -> dict[tuple[str, str], dict]:
    return {(e["column"], e["rule"]): e for e in report["expectations"] if not e["success"]}


def test_clean_data_passes_and_gives_facts():
    report = _report(_frame())
    assert report["valid"] is True
    assert report["facts"]["number_of_records"] == 3
    assert 35 <= report["facts"]["min_typical_age"] <= report["facts"]["max_typical_age"] <= 52
    assert report["completeness"] == dict.fromkeys([c["name"] for c in COLUMNS], 1.0)


def test_each_kind_of_failure_names_its_rows():
    report = _report(_frame(
        cpr=["0703851234", "3213851234", None],
        birth_date=["1985-03-07", "1985-02-30", "1985-03-07"],
        sex=["female", "unknown", "female"],
        admitted=["2020-05-01", "2021-01-02", "1999-12-31"],
        diagnosis=["DJ441", "J44", "DI500"],
        days=["3", "many", "366"],
    ))
    failed = _failed(report)
    assert report["valid"] is False
    assert failed[("cpr", "cpr")]["example_rows"] == [2]
    assert failed[("cpr", "required")]["example_rows"] == [3]
    assert failed[("birth_date", "type")]["example_rows"] == [2]
    assert failed[("sex", "allowed")]["example_rows"] == [2]
    assert failed[("admitted", "range")]["example_rows"] == [3]
    assert failed[("diagnosis", "pattern")]["example_rows"] == [2]
    assert failed[("days", "type")]["example_rows"] == [2]
    assert failed[("days", "range")]["example_rows"] == [3]
    assert report["completeness"]["cpr"] == 2 / 3


def test_identifier_and_sensitive_values_never_reach_the_report():
    report = _report(_frame(cpr=["3213851234"] * 3, diagnosis=["secret"] * 3,
                            days=["3", "10", "999"]))
    text = repr(report)
    assert "3213851234" not in text and "secret" not in text
    assert _failed(report)[("days", "range")]["example_values"] == ["999"]  # as sent


def test_row_numbers_and_uniqueness_span_chunks():
    columns = [*COLUMNS, {"name": "record_id", "type": "integer", "role": "attribute",
                          "unique": True}]
    first = _frame(record_id=["1", "2", "3"])
    second = _frame(record_id=["4", "2", "6"], days=["3", "10", "-1"])
    report = _report(first, second, columns=columns)
    failed = _failed(report)
    assert failed[("record_id", "unique")]["example_rows"] == [2, 5]
    assert failed[("days", "range")]["example_rows"] == [6]
    assert "example_values" not in failed[("record_id", "unique")]


def test_empty_data_is_not_valid():
    assert _report(_frame().iloc[0:0])["valid"] is False


def test_date_ranges_are_checked_as_integers():
    checks = {(c.column, c.rule): c for c in plan_checks(COLUMNS)}
    date_range = checks[("admitted", "range")]
    assert date_range.target != "admitted"
    assert isinstance(date_range.kwargs["min_value"], int)


def test_a_million_rows_keep_memory_bounded_by_chunks():
    # 4 chunks of 250,000 rows are validated one at a time; only 8-byte hashes accumulate.
    quality = QualityAccumulator([{"name": "n", "type": "integer", "role": "attribute",
                                   "unique": True, "minimum": 0}])
    for start in range(0, 1_000_000, 250_000):
        quality.add(pd.DataFrame({"n": np.arange(start, start + 250_000)}))
    report = quality.finish()
    assert report["valid"] and report["row_count"] == 1_000_000
    assert sum(h.nbytes for hashes in quality.hashes.values() for h in hashes) <= 8_000_000


def test_great_expectations_is_not_imported_on_the_request_path():
    script = (
        "import sys\n"
        "from marketplace import create_app\n"
        "import tempfile, pathlib\n"
        "tmp = pathlib.Path(tempfile.mkdtemp())\n"
        f"key = {MASTER_KEY!r}\n"
        "app = create_app({'TESTING': True, 'DATABASE_URL': f'sqlite:///{tmp}/x.db',\n"
        "                  'SECRET_KEY': 'x', 'MASTER_KEY': key, 'DATA_DIR': tmp})\n"
        "from marketplace import schema\n"
        "schema.upgrade(f'sqlite:///{tmp}/x.db')\n"
        "client = app.test_client()\n"
        "assert client.get('/api/v1/datasets').status_code == 200\n"
        "assert client.get('/catalog').status_code == 200\n"
        "assert client.get('/catalog.ttl').status_code == 200\n"
        "print('great_expectations' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120, env={"MARKETPLACE_INSTANCE_PATH": "/tmp/gx-probe",
                                              "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("False")


def test_bulk_cpr_check_agrees_with_the_cpr_rules():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from marketplace.cpr import is_valid_cpr
    from marketplace.cpr import valid_cpr_mask as valid_cpr_flags

    @settings(max_examples=300, deadline=None)
    @given(st.lists(st.from_regex(r"[0-3][0-9][01][0-9][0-9]{2}[0-9]{4}", fullmatch=True)
                    | st.text(alphabet="0123456789- x", max_size=12), min_size=1, max_size=30))
    def agree(values):
        flags = valid_cpr_flags(pd.Series(values, dtype="str"))
        assert list(flags) == [is_valid_cpr(v) and len(v) == 10 for v in values]

    agree()
    edge = ["2902000000", "2902004000", "2902004999", "3102585000", "0101375000", "0101404000"]
    assert list(valid_cpr_flags(pd.Series(edge))) == [is_valid_cpr(v) for v in edge]


def test_semicolon_csv_with_decimal_commas_is_understood(tmp_path):
    from marketplace.catalog.ingest import read_csv_chunks
    path = tmp_path / "excel.csv"
    path.write_text("name;weight\nA;72,5\nB;80\n", encoding="utf-8")
    columns = [{"name": "name", "type": "string", "role": "attribute"},
               {"name": "weight", "type": "number", "role": "attribute", "maximum": 75}]
    quality = QualityAccumulator(columns)
    with path.open("rb") as source:
        for chunk in read_csv_chunks(source, columns):
            typed = quality.add(chunk)
    assert list(typed["weight"]) == [72.5, 80.0]
    assert _failed(quality.finish())[("weight", "range")]["example_rows"] == [2]
