"""Extract files: formulas defused in CSV whatever the source, and the CSV's hash."""
from __future__ import annotations

import hashlib
import io

import pandas as pd

from marketplace.delivery import output


def _parquet(frame: pd.DataFrame) -> bytes:
    return bytes(output.write_parquet([frame]).data)


def test_cells_a_spreadsheet_would_run_reach_the_csv_defused():
    frame = pd.DataFrame({
        "comment": pd.Categorical(['=HYPERLINK("http://evil.example","klik")', "ok", "+1",
                                   "@SUM(A1)", "-2", "\tx"]),
        "plain": ["=1+1", "a", "b", "c", "d", "e"],
        "number": [1, 2, 3, 4, 5, 6],
    })
    text = b"".join(output.parquet_to_csv(_parquet(frame))).decode()
    back = pd.read_csv(io.StringIO(text), keep_default_na=False)
    assert back["comment"].tolist() == ["'=HYPERLINK(\"http://evil.example\",\"klik\")", "ok",
                                        "'+1", "'@SUM(A1)", "'-2", "'\tx"]
    assert back["plain"].tolist()[0] == "'=1+1"
    assert back["number"].tolist() == [1, 2, 3, 4, 5, 6]
    assert not any(line.startswith(("=", "+", "@")) for line in text.splitlines())


def test_the_csv_hash_is_the_hash_of_what_a_download_sends():
    frame = pd.DataFrame({"a": pd.Categorical(["x", "y"]), "n": [1, 2]})
    data = _parquet(frame)
    sent = b"".join(output.parquet_to_csv(data))
    assert output.csv_sha256(data) == hashlib.sha256(sent).hexdigest()
    assert sent.decode().splitlines()[0] == "a,n"


def test_an_empty_extract_is_a_header_only_csv():
    data = _parquet(pd.DataFrame({"a": pd.Series([], dtype=str), "n": pd.Series([], dtype=int)}))
    assert b"".join(output.parquet_to_csv(data)).decode().strip() == "a,n"
