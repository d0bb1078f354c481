"""The last line of defence: nothing that looks like a CPR number or a direct identifier leaves.

The scan works on distinct values (a categorical column is scanned through its dictionary), so it
costs little even on large extracts. Any finding fails the extract; the caller keeps no output.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from marketplace.cpr import contains_cpr, scrub_cpr, valid_cpr_mask

CPR_PLACEHOLDER = "[CPR]"


class LeakFound(Exception):
    """The extract would disclose an identifier; it must not be released."""

    def __init__(self, findings: list[str]):
        super().__init__("; ".join(findings))
        self.findings = findings


@dataclass(frozen=True)
class LeakScan:
    columns_scanned: int
    values_scanned: int


def redact_cprs(values: pd.Series) -> pd.Series:
    """Replace every CPR number inside free text, in any spelling, by a placeholder (on distinct
    values)."""
    codes, uniques = pd.factorize(values, sort=False)
    text = pd.Index(uniques).astype(str)
    redacted = pd.Index([scrub_cpr(value, CPR_PLACEHOLDER) for value in text], dtype=object)
    new_codes, new_uniques = pd.factorize(redacted, sort=False)
    remapped = np.where(codes >= 0, new_codes[np.maximum(codes, 0)], -1)
    return pd.Series(
        pd.Categorical.from_codes(remapped, categories=pd.Index(new_uniques), validate=False),
        index=values.index,
        name=values.name,
    )


def _distinct(series: pd.Series) -> pd.Series:
    if isinstance(series.dtype, pd.CategoricalDtype):
        used = np.unique(series.cat.codes.to_numpy())
        return pd.Series(series.cat.categories[used[used >= 0]])
    return pd.Series(pd.unique(series.dropna()))


def _cpr_like(distinct: pd.Series) -> bool:
    if pd.api.types.is_integer_dtype(distinct.dtype) or pd.api.types.is_float_dtype(distinct.dtype):
        numbers = pd.to_numeric(distinct, errors="coerce").dropna()
        candidates = numbers[(numbers >= 1e8) & (numbers < 1e10) & (numbers == numbers.round())]
        if candidates.empty:
            return False
        return bool(valid_cpr_mask(candidates.astype(np.int64).map("{:010d}".format)).any())
    text = pa.array(pd.Index(distinct).astype("str").array, type=pa.string())
    # Cheap test first: only values with ten digits (in any script) can hold a CPR number.
    enough = pc.greater_equal(pc.count_substring_regex(text, r"\p{Nd}"), 10)
    candidates = distinct[enough.to_numpy(zero_copy_only=False)]
    return any(contains_cpr(value) for value in candidates.astype(str))


def scan(frame: pd.DataFrame, *, forbidden_columns: Iterable[str]) -> LeakScan:
    """Raise LeakFound if a forbidden column survived or any value looks like a CPR number."""
    findings = [f"direct identifier column {name!r} present" for name in forbidden_columns
                if name in frame.columns]
    values = 0
    for name in frame.columns:
        distinct = _distinct(frame[name])
        values += len(distinct)
        if pd.api.types.is_datetime64_any_dtype(distinct.dtype) or distinct.dtype == bool:
            continue
        if _cpr_like(distinct):
            findings.append(f"column {name!r} holds a value that looks like a CPR number")
    if findings:
        raise LeakFound(findings)
    return LeakScan(columns_scanned=len(frame.columns), values_scanned=values)
