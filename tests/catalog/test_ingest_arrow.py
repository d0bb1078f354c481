"""The upload's vectorised Arrow checks give exactly what the per-value pandas rules gave."""
from __future__ import annotations

import re
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from marketplace.catalog import ingest, quality
from marketplace.errors import Invalid
from marketplace.security import Keyring

KEYRING = Keyring(bytes(range(32)))
TRICKY = [None, "", " ", " =1", "=1", "+45 1234", "-1", "@x", "\tx", "\rx", "\nx", "–1",
          "\u00a0=1", "ÆØÅ", "=", "a=b", "1-2", "DJ441", "𝟙=1", "\u200b=1"]


def _pandas_formula_rows(values: pd.Series) -> np.ndarray:
    """The rule as it was written in pandas, one value at a time."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        labels = pd.Series(values.cat.categories.astype(str))
        bad = labels.str.startswith(ingest.FORMULA_PREFIXES).to_numpy(dtype=bool)
        codes = values.cat.codes.to_numpy()
        if not len(bad):
            return np.zeros(0, dtype=np.int64)
        return np.flatnonzero(np.where(codes >= 0, bad[np.maximum(codes, 0)], False))
    if not (pd.api.types.is_object_dtype(values.dtype)
            or pd.api.types.is_string_dtype(values.dtype)):
        return np.zeros(0, dtype=np.int64)
    starts = values.str.startswith(ingest.FORMULA_PREFIXES)
    return np.flatnonzero(starts.astype("boolean").fillna(False).to_numpy(dtype=bool))


@pytest.mark.parametrize("column", [
    pa.array(TRICKY, pa.string()),
    pa.array(TRICKY, pa.large_string()),
    pa.array(TRICKY, pa.string()).dictionary_encode(),
    pa.array([-1, 2, None, -30, 4], pa.int64()).dictionary_encode(),
    pa.array([-1.5, 2.0, None, -0.0], pa.float64()).dictionary_encode(),
    pa.array([-1, 2, None], pa.int64()),
    pa.nulls(4),
], ids=["text", "large-text", "dictionary", "int-dictionary", "float-dictionary", "integers",
        "nulls"])
def test_formula_cells_are_found_as_the_pandas_rule_found_them(column):
    batch = pa.record_batch({"note": column})
    expected = _pandas_formula_rows(batch.to_pandas()["note"])
    assert ingest._formula_rows(batch.column("note")).tolist() == expected.tolist()
    chunked = pa.chunked_array([column.slice(0, 2), column.slice(2)])
    assert ingest._formula_rows(chunked).tolist() == expected.tolist()


def test_formula_refusal_names_rows_across_chunks_of_a_csv_table():
    table = pa.Table.from_batches([
        pa.record_batch({"note": pa.array(["ok", "=1"])}),
        pa.record_batch({"note": pa.array([None, " -1", "-1"])}),
    ])
    columns = [{"name": "note", "type": "string"}]
    with pytest.raises(Invalid) as raised:
        ingest._check_formulas(table, columns, first_row=11)
    assert raised.value.errors[0]["values"] == {"rows": "12, 15"}


def test_separators_are_what_python_calls_whitespace():
    spaces = {chr(c) for c in range(sys.maxunicode + 1) if re.fullmatch(r"\s", chr(c))}
    listed = {chr(int(code, 16)) for code in re.findall(r"\\x\{([0-9a-f]+)\}",
                                                        ingest.CPR_SEPARATORS)}
    assert listed | {" "} == spaces  # the hyphen and the space are written as themselves
    assert ingest.CPR_SEPARATORS.startswith("[- ")


SPELLINGS = ["010190-1234", " 010190 1234", "0101901234 ", "010190--1234", "\u00a0010190-1234",
             "010190\u20031234", "\t0101901234\n", "0101901234"]


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_subject_keys_equal_the_blind_index_for_every_spelling(spelling):
    keys, prefixes = ingest.subject_keys(pd.Series([spelling, None]), KEYRING)
    expected = KEYRING.blind_index("0101901234")
    assert keys.to_pylist() == [expected, None]
    assert prefixes.tolist() == [int.from_bytes(bytes.fromhex(expected)[:8], "little")]


def test_subject_keys_are_cached_across_chunks_and_stay_the_same():
    cache = ingest.DigestCache()
    cprs = ["0101901234", "0202901235", "0303901236"]
    first, _ = ingest.subject_keys(pd.Series(cprs[:2]), KEYRING, cache)
    second, prefixes = ingest.subject_keys(
        pd.Series(["0303901236", "020290-1235", "", None, "0101901234"]), KEYRING, cache)
    assert first.to_pylist() == [KEYRING.blind_index(c) for c in cprs[:2]]
    blank = ingest._hmac_sha256(KEYRING.blind_index_key)(b"").hex()
    assert second.to_pylist() == [KEYRING.blind_index(cprs[2]), KEYRING.blind_index(cprs[1]),
                                  blank, None, KEYRING.blind_index(cprs[0])]
    assert len(prefixes) == 4  # one per distinct value
    assert len(cache.numbers) == 3  # ten-digit numbers only, each once


def test_a_full_cache_still_gives_every_key():
    cache = ingest.DigestCache(limit=1)
    cprs = pd.Series(["0101901234", "0202901235", "0101901234"])
    for _ in range(2):
        keys, _ = ingest.subject_keys(cprs, KEYRING, cache)
        assert keys.to_pylist() == [KEYRING.blind_index(c) for c in cprs]
    assert len(cache.numbers) == 1


def _pandas_text(values: pd.Series, col: dict) -> pd.Series:
    """The text preparation as it was written in pandas."""
    text = values.astype("str").where(values.notna())
    if col.get("identifier_kind") == "cpr":
        text = text.str.replace(r"[- ]", "", regex=True, n=1)
    return text


@pytest.mark.parametrize("values", [
    pd.Series(["010190-1234", None, " 010190 1234", np.nan, "ÆØÅ", ""], dtype=object),
    pd.Series(["010190-1234", "0101-90 1234", "x"], dtype=object),
    pd.Series(["0101 901234", " 010190 1234"], dtype=object),
    pd.Series(["010190-1234", None], dtype="string[pyarrow]"),
    pd.Series(["a", "b", None], dtype="category"),
    pd.Series([1, -2, 3]),
    pd.Series([1.5, None]),
    pd.Series([None, None], dtype=object),
    pd.Series(["a", 1, None], dtype=object),
], ids=["object", "both-separators", "spaces", "arrow", "category", "integers", "floats",
        "all-missing", "mixed"])
@pytest.mark.parametrize("kind", ["cpr", "name"])
def test_text_preparation_agrees_with_the_pandas_rule(values, kind):
    col = {"name": "x", "type": "string", "identifier_kind": kind}
    got = quality._text(values, col)
    expected = _pandas_text(values, col)
    assert got.notna().tolist() == expected.notna().tolist()
    assert got.dropna().tolist() == expected.dropna().tolist()
    assert quality.valid_cpr_mask(got).tolist() == quality.valid_cpr_mask(expected).tolist()
