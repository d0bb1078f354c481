"""Differentially private counts with OpenDP: noise on the finest cells, margins as their sums.

Pure module. Every person's influence is bounded before noise is added: a person counts in at
most `CONTRIBUTION_BOUND` cells (and with at most that many rows), so one person changes the
vector of counts by at most the bound in L1 distance, and discrete Laplace noise with scale
bound × measures / ε makes the release ε-differentially private. Every cell of the whole
label domain gets noise, present in the cohort or not, so the absence of a cell tells nothing.
Margins are sums of noisy cells (post-processing costs no privacy).
"""
from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import opendp.prelude as dp
import pandas as pd

from marketplace.statistics.tables import GROUPING, PERSONS, ROWS

CONTRIBUTION_BOUND = 5
DP_MEASURES = ("count_persons", "count_rows")

dp.enable_features("contrib")


def bounded_cells(cells: pd.DataFrame, *, dimensions: Sequence[str], order: np.ndarray
                  ) -> pd.DataFrame:
    """Per finest cell, persons and rows after bounding each person's contribution.

    `cells` has one row per record with the dimensions and `person`; `order` ranks each record
    within its person (a keyed random order, so the kept records are not chosen by the data).
    """
    frame = cells.assign(_order=order)
    frame = frame.sort_values(["person", "_order"], kind="stable")
    rows = frame.groupby("person", sort=False).cumcount() < CONTRIBUTION_BOUND
    kept = frame.loc[rows.to_numpy()]
    keys = list(dimensions)
    if not keys:
        return pd.DataFrame({PERSONS: [kept["person"].nunique()], ROWS: [len(kept)]})
    per_person = kept.groupby([*keys, "person"], observed=True, sort=False).size()
    per_person = per_person.reset_index(name=ROWS)
    counts = per_person.groupby(keys, observed=True).agg(
        **{PERSONS: ("person", "size"), ROWS: (ROWS, "sum")})
    return counts.reset_index()


def noisy_cube(counts: pd.DataFrame, *, dimensions: Sequence[str],
               domains: Sequence[Sequence[str]], measures: Sequence[str], epsilon: float,
               ) -> pd.DataFrame:
    """All cells of the domain with noisy counts, and every margin summed from them.

    Raises ValueError for a measure that is not a count or an epsilon that is not positive.
    """
    if epsilon <= 0:
        raise ValueError("epsilon must be positive")
    unknown = [m for m in measures if m not in DP_MEASURES]
    if unknown:
        raise ValueError(f"differential privacy answers counts only, not {', '.join(unknown)}")
    full = pd.DataFrame(list(itertools.product(*domains)) if dimensions else [()],
                        columns=list(dimensions))
    if dimensions:
        counts = counts.astype({d: str for d in dimensions})
        full = full.merge(counts, on=list(dimensions), how="left")
    else:
        full = pd.concat([full, counts[[PERSONS, ROWS]].reset_index(drop=True)], axis=1)
    scale = CONTRIBUTION_BOUND * max(1, len(measures)) / epsilon
    mechanism = dp.m.make_laplace(dp.vector_domain(dp.atom_domain(T=int)),
                                  dp.l1_distance(T=int), scale=scale)
    for column, measure in ((PERSONS, "count_persons"), (ROWS, "count_rows")):
        if measure in measures:
            exact = full[column].fillna(0).astype(np.int64).tolist()
            full[column] = np.maximum(np.asarray(mechanism(exact), dtype=np.int64), 0)
        else:
            full[column] = 0
    full[GROUPING] = 0
    margins = [full]
    for summed in range(1, 2 ** len(dimensions)):
        kept = [d for i, d in enumerate(dimensions) if not summed >> i & 1]
        if kept:
            margin = full.groupby(kept, sort=True)[[PERSONS, ROWS]].sum().reset_index()
        else:
            margin = full[[PERSONS, ROWS]].sum().to_frame().T
        for i, d in enumerate(dimensions):
            if summed >> i & 1:
                margin[d] = None
        margin[GROUPING] = summed
        margins.append(margin)
    cube = pd.concat(margins, ignore_index=True)
    return cube[[*dimensions, GROUPING, PERSONS, ROWS]]


def laplace_scale(measures: Sequence[str], epsilon: float) -> float:
    """The noise scale a request's counts get (documented with the result)."""
    return CONTRIBUTION_BOUND * max(1, len(measures)) / epsilon
