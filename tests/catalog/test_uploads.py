"""What a data holder's upload may hold: Excel's CSV UTF-8 is read, a version without data is
refused (and never replaces the current one), and every refusal names what is wrong."""
from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from marketplace.catalog import services
from marketplace.catalog.models import DataVersion
from tests.catalog.conftest import COLUMNS, GOOD_CSV

PARQUET = "application/vnd.apache.parquet"
HEADER = GOOD_CSV.splitlines()[0]


def _versions(session) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(DataVersion))


def _parquet(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def _typed_parquet(rows: int) -> bytes:
    """A Parquet file with the dictionary's types whose every cell is null."""
    types = {"string": pa.string(), "category": pa.string(), "date": pa.date32(),
             "integer": pa.int64()}
    return _parquet(pa.table({c["name"]: pa.nulls(rows, types[c["type"]]) for c in COLUMNS}))


def _good_frame() -> pd.DataFrame:
    return pd.DataFrame({"cpr": ["0703851234"], "birth_date": [pd.Timestamp("1985-03-07")],
                         "sex": ["female"], "admitted": [pd.Timestamp("2020-01-01")],
                         "diagnosis": ["DJ44"], "days": [3]})


def _frame_parquet(frame: pd.DataFrame) -> bytes:
    sink = io.BytesIO()
    frame.to_parquet(sink)
    return sink.getvalue()


# --- Excel's "CSV UTF-8" ----------------------------------------------------------------------

@pytest.mark.parametrize("delimiter", [",", ";"])
def test_excel_csv_utf8_with_a_byte_order_mark_is_stored_and_valid(
        client, create, upload, session, keyring, data_dir, delimiter):
    dataset = create()
    body = b"\xef\xbb\xbf" + GOOD_CSV.replace(",", delimiter).encode()
    response = upload(dataset["id"], body)
    assert response.status_code == 200, response.get_json()
    version = response.get_json()
    assert version["valid"] is True and version["number_of_rows"] == 3
    # The first column is found by its name: the mark is not part of it.
    assert "cpr" in version["report"]["completeness"]
    stored = services.current_version(
        session, dataset=services.require_dataset(session, dataset_id=dataset["id"]))
    frame = next(services.read_version_frames(stored, keyring=keyring, data_dir=data_dir))
    assert frame.columns[0] == "cpr"
    assert frame["_subject_key"].iloc[0] == keyring.blind_index("0703851234")


def test_a_utf16_file_is_refused_naming_the_encoding(client, create, upload, session,
                                                     holder_headers):
    dataset = create()
    body = GOOD_CSV.encode("utf-16")  # starts with the UTF-16 byte-order mark
    response = upload(dataset["id"], body)
    assert response.status_code == 422
    problem = response.get_json()
    assert "UTF-16" in problem["detail"] and "CSV UTF-8" in problem["detail"]
    assert problem["errors"] == [{"field": "data", "message": problem["detail"]}]
    english = client.put(f"/api/v1/datasets/{dataset['id']}/data?lang=en", data=body,
                         content_type="text/csv", headers=holder_headers)
    assert english.status_code == 422
    assert english.get_json()["errors"][0]["message"] == (
        "The file is saved as UTF-16 (it starts with a UTF-16 byte-order mark). Save it as "
        "CSV UTF-8.")
    assert _versions(session) == 0


# --- versions without data --------------------------------------------------------------------

EMPTY_CASES: dict[str, tuple[Callable[[], bytes], str, str, str]] = {
    # kind: (body, media type, Danish detail starts, English detail starts)
    "csv header only": (lambda: (HEADER + "\n").encode(), "text/csv",
                        "Filen har ingen rækker", "The file has no rows"),
    "csv header without newline": (lambda: HEADER.encode(), "text/csv",
                                   "Filen har ingen rækker", "The file has no rows"),
    "csv every cell empty": (lambda: (HEADER + "\n" + ",,,,,\n" * 3).encode(), "text/csv",
                             "Alle celler i filen er tomme", "Every cell of the file is empty"),
    "csv blanks only": (lambda: (HEADER + "\n" + " , ,,  ,,\n" * 2).encode(), "text/csv",
                        "Alle celler i filen er tomme", "Every cell of the file is empty"),
    "csv identifiers only": (
        lambda: (HEADER + "\n0703851234,,,,,\n0101701235,,,,,\n").encode(), "text/csv",
        "Filen har kun identifikatorer", "The file holds only identifiers"),
    "parquet without rows": (lambda: _frame_parquet(_good_frame().iloc[:0]), PARQUET,
                             "Filen har ingen rækker", "The file has no rows"),
    "parquet every cell null": (lambda: _typed_parquet(4), PARQUET,
                                "Alle celler i filen er tomme", "Every cell of the file is empty"),
    "parquet of null columns": (
        lambda: _parquet(pa.table({c["name"]: pa.nulls(2) for c in COLUMNS})), PARQUET,
        "Alle celler i filen er tomme", "Every cell of the file is empty"),
}


@pytest.mark.parametrize("kind", list(EMPTY_CASES))
def test_a_version_without_data_is_refused_in_the_callers_language(
        client, create, upload, session, data_dir, holder_headers, kind):
    make_body, media_type, danish, english_text = EMPTY_CASES[kind]
    dataset = create()
    body = make_body()
    response = upload(dataset["id"], body, media_type)
    assert response.status_code == 422, response.get_json()
    problem = response.get_json()
    assert problem["detail"].startswith(danish)
    assert problem["errors"] and all(e["field"] and e["message"] for e in problem["errors"])
    english = client.put(f"/api/v1/datasets/{dataset['id']}/data?lang=en", data=body,
                         content_type=media_type, headers=holder_headers)
    assert english.status_code == 422
    assert english.get_json()["detail"].startswith(english_text)
    assert all(e["message"].isascii() for e in english.get_json()["errors"])
    assert _versions(session) == 0
    assert not any(p.is_file() for p in data_dir.rglob("*"))
    quality = client.get(f"/api/v1/datasets/{dataset['id']}/quality", headers=holder_headers)
    assert quality.status_code == 404


def test_identifiers_only_names_each_empty_column(client, create, upload):
    dataset = create()
    response = upload(dataset["id"], HEADER + "\n0703851234,,,,,\n")
    assert response.status_code == 422
    assert response.get_json()["errors"] == [
        {"field": name, "message": "kolonnen er tom i alle rækker"}
        for name in ("birth_date", "sex", "admitted", "diagnosis", "days")]


def test_one_filled_data_cell_is_enough_to_be_read(client, create, upload):
    dataset = create()
    response = upload(dataset["id"], HEADER + "\n0703851234,,,,,\n0101701235,,,,,4\n")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["report"]["completeness"]["days"] == 0.5


@pytest.mark.parametrize("kind", ["csv header only", "csv every cell empty",
                                  "parquet without rows", "parquet every cell null"])
def test_a_version_without_data_keeps_the_valid_one_current(
        client, published, upload, session, keyring, data_dir, holder_headers, kind):
    dataset = published()
    make_body, media_type, _danish, _english = EMPTY_CASES[kind]
    assert upload(dataset["id"], make_body(), media_type).status_code == 422
    shown = client.get(f"/api/v1/datasets/{dataset['id']}").get_json()
    assert shown["status"] == "published"
    assert shown["number_of_records"] == 3 and shown["number_of_unique_individuals"] == 2
    assert shown["quality"]["valid_data"] is True
    public = client.get(f"/api/v1/datasets/{dataset['id']}/quality").get_json()
    assert public["version"] == 1 and public["valid"] is True and public["number_of_rows"] == 3
    # What extracts read is still the first version, whole.
    stored = services.require_dataset(session, dataset_id=dataset["id"])
    current = services.current_version(session, dataset=stored)
    assert current.number == 1
    frame = next(services.read_version_frames(current, keyring=keyring, data_dir=data_dir))
    assert list(frame["diagnosis"]) == ["DJ441", "DJ449", "DI500"]
    assert [v.number for v in services.list_versions(session, dataset=stored)] == [1]


def test_the_upload_form_refuses_an_empty_file_with_its_reason(
        client, session, login, make_user, holder, create, published):
    dataset = published()
    login(make_user(holder))
    csrf = client.get("/api/v1/me").get_json()["csrf_token"]
    page = client.post(f"/catalog/{dataset['id']}/upload", data={
        "csrf_token": csrf, "file": (io.BytesIO((HEADER + "\n").encode()), "data.csv")},
        content_type="multipart/form-data")
    assert page.status_code == 422
    assert "Filen har ingen rækker, kun en overskrift." in page.get_data(as_text=True)
    english = client.post(f"/catalog/{dataset['id']}/upload?lang=en", data={
        "csrf_token": csrf, "file": (io.BytesIO((HEADER + "\n,,,,,\n").encode()), "data.csv")},
        content_type="multipart/form-data")
    assert english.status_code == 422
    assert "Every cell of the file is empty." in english.get_data(as_text=True)
    assert client.get(f"/api/v1/datasets/{dataset['id']}").get_json()["number_of_records"] == 3


# --- every refusal says what is wrong ---------------------------------------------------------

def _formula_parquet() -> bytes:
    frame = _good_frame()
    frame["diagnosis"] = ["=1+1"]
    return _frame_parquet(frame)


REFUSALS: dict[str, tuple[Callable[[], bytes], str]] = {
    "empty body": (lambda: b"", "text/csv"),
    "header only": (EMPTY_CASES["csv header only"][0], "text/csv"),
    "all null": (EMPTY_CASES["csv every cell empty"][0], "text/csv"),
    "identifiers only": (EMPTY_CASES["csv identifiers only"][0], "text/csv"),
    "formula cell": (lambda: GOOD_CSV.replace("DJ449", "=cmd|' /C calc'!A0").encode(),
                     "text/csv"),
    "wrong columns": (lambda: GOOD_CSV.replace("days", "nights").encode(), "text/csv"),
    "no header row": (lambda: GOOD_CSV.split("\n", 1)[1].encode(), "text/csv"),
    "ragged rows": (lambda: (GOOD_CSV + "0101701235,1970-01-01,male\n").encode(), "text/csv"),
    "type failures": (lambda: GOOD_CSV.replace(",3\n", ",three\n").encode(), "text/csv"),
    "expectation failures": (lambda: GOOD_CSV.replace("DJ441", "bad").encode(), "text/csv"),
    "latin-1": (lambda: GOOD_CSV.replace("female", "kvinde æ").encode("latin-1"), "text/csv"),
    "utf-16": (lambda: GOOD_CSV.encode("utf-16"), "text/csv"),
    "unknown media type": (lambda: GOOD_CSV.encode(), "application/json"),
    "parquet not parquet": (lambda: b"PAR1 this is not parquet PAR1", PARQUET),
    "parquet wrong type": (
        lambda: _frame_parquet(_good_frame().assign(days=["three"])), PARQUET),
    "parquet without rows": (EMPTY_CASES["parquet without rows"][0], PARQUET),
    "parquet all null": (EMPTY_CASES["parquet every cell null"][0], PARQUET),
    "parquet formula cell": (_formula_parquet, PARQUET),
}


@pytest.mark.parametrize("kind", list(REFUSALS))
def test_every_refused_upload_names_what_is_wrong(client, create, upload, holder_headers,
                                                  kind):
    make_body, media_type = REFUSALS[kind]
    dataset = create()
    for lang in ("da", "en"):
        response = client.put(f"/api/v1/datasets/{dataset['id']}/data?lang={lang}",
                              data=make_body(), content_type=media_type,
                              headers=holder_headers)
        assert 400 <= response.status_code < 500, (kind, response.status_code)
        problem: dict[str, Any] = response.get_json()
        assert problem["detail"], kind
        assert problem["errors"], kind
        for error in problem["errors"]:
            assert isinstance(error["field"], str) and error["field"], (kind, error)
            assert isinstance(error["message"], str) and error["message"], (kind, error)
            assert "template" not in error and "values" not in error, (kind, error)
        if lang == "en":
            # Nothing Danish is left in the English answer.
            assert not any(letter in problem["detail"] + str(problem["errors"])
                           for letter in "æøåÆØÅ"), (kind, problem)
