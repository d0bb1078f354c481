"""The permit's data as the sandbox sees it: the delivery pipeline's selection, pseudonymised.

consent filter (as of approval) -> cohort -> permitted columns -> per-permit pseudonym in place
of the subject column -> CPR numbers in free text redacted -> leak scan -> rows in a keyed random
order. Quasi-identifiers keep their recorded values: the data never leaves the secure processing
environment, only checked and released outputs do. Pure module.
"""
from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from marketplace.delivery import leaks, pipeline
from marketplace.delivery.pseudonymise import pseudonymise


@dataclass(frozen=True)
class Prepared:
    frame: pd.DataFrame
    rows_read: int
    persons: int
    subject_keys: np.ndarray  # the persons' blind indexes, for "who used my data"


def _chunk(frame: pd.DataFrame, plan: pipeline.ExtractPlan) -> pipeline.ReleasedChunk:
    selected = pipeline.select(frame, plan)
    out: dict[str, pd.Series] = {}
    for name in plan.output_columns:
        column = plan.column(name)
        if name == plan.subject_column:
            person = (selected[pipeline.SUBJECT_KEY] if pipeline.SUBJECT_KEY in selected
                      else selected[name])
            out[pipeline.PSEUDONYM] = pseudonymise(person, key=plan.pseudonym_key)
        elif column.get("identifier_kind") == "free_text":
            out[name] = leaks.redact_cprs(selected[name])
        else:
            out[name] = selected[name]
    result = pd.DataFrame({n: s.reset_index(drop=True) for n, s in out.items()},
                          index=pd.RangeIndex(len(selected)))
    keys = np.array([], dtype=object)
    if pipeline.SUBJECT_KEY in selected:
        # Distinct persons through the column's dictionary, not per row.
        codes, uniques = pipeline.distinct_codes(selected[pipeline.SUBJECT_KEY])
        used = np.unique(codes[codes >= 0])
        keys = np.asarray(pd.Index(uniques)[used].astype(str), dtype=object)
    return pipeline.ReleasedChunk(frame=result, subject_keys=keys)


def keyed_order(rows: int, *, key: bytes) -> np.ndarray:
    """A permutation of `rows` positions drawn from a generator seeded by a keyed PRF, so the
    order reveals nothing of the upload order and differs between permits."""
    seed = int.from_bytes(hmac.new(key, b"workspace-row-order", hashlib.sha256).digest(), "big")
    return np.random.default_rng(seed).permutation(rows)


def prepare(frames: Iterable[pd.DataFrame], plan: pipeline.ExtractPlan, *, order_key: bytes
            ) -> Prepared:
    """The permit's rows of one dataset, pseudonymised and shuffled; raise LeakFound when a
    direct identifier or a CPR-like value would reach the sandbox."""
    rows_read = 0
    chunks = []
    for frame in frames:
        rows_read += len(frame)
        chunks.append(_chunk(frame, plan))
    subject_keys = (np.unique(np.concatenate([c.subject_keys for c in chunks]).astype(str))
                    if chunks else np.array([], dtype=str))
    combined = pipeline.concat_released(chunks)
    if combined.empty and not len(combined.columns):
        combined = pd.DataFrame({name if name != plan.subject_column else pipeline.PSEUDONYM:
                                 pd.Series([], dtype=object) for name in plan.output_columns})
    leaks.scan(combined, forbidden_columns=plan.forbidden_columns)
    order = keyed_order(len(combined), key=order_key)
    return Prepared(combined.iloc[order].reset_index(drop=True), rows_read, len(subject_keys),
                    subject_keys)


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Write the prepared rows as one Parquet file."""
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path,
                   compression="zstd")
