"""Differentially private counts: bounded contributions, noise on every cell, summed margins."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from marketplace.statistics import dp, tables


def records(n_persons: int = 50, per_person: int = 12) -> pd.DataFrame:
    person = np.repeat(np.arange(n_persons), per_person)
    sex = np.where(person % 2 == 0, "f", "m")
    return pd.DataFrame({"sex": sex, "person": person})


def test_each_person_counts_at_most_the_bound():
    cells = records()
    counts = dp.bounded_cells(cells, dimensions=["sex"], order=np.arange(len(cells)))
    assert counts[tables.ROWS].sum() == 50 * dp.CONTRIBUTION_BOUND
    assert counts[tables.PERSONS].sum() == 50


def test_every_cell_of_the_domain_gets_noise_and_margins_are_sums():
    cells = records()
    counts = dp.bounded_cells(cells, dimensions=["sex"], order=np.arange(len(cells)))
    cube = dp.noisy_cube(counts, dimensions=["sex"], domains=[["f", "m", "x"]],
                         measures=["count_persons"], epsilon=1.0)
    detail = cube[cube[tables.GROUPING] == 0]
    assert sorted(detail["sex"]) == ["f", "m", "x"]  # "x" never occurs and still has a cell
    total = cube[cube[tables.GROUPING] == 1][tables.PERSONS].iloc[0]
    assert total == detail[tables.PERSONS].sum()
    assert (cube[tables.PERSONS] >= 0).all()


def test_the_noise_is_centred_and_scaled_by_epsilon():
    counts = pd.DataFrame({"sex": ["f"], tables.PERSONS: [100], tables.ROWS: [100]})
    draws = [dp.noisy_cube(counts, dimensions=["sex"], domains=[["f"]],
                           measures=["count_persons"], epsilon=1.0)[tables.PERSONS].iloc[0]
             for _ in range(300)]
    assert abs(np.mean(draws) - 100) < 2.5
    assert 2 < np.std(draws) < 12  # scale 5 / epsilon: standard deviation about 7


@pytest.mark.parametrize("measures, epsilon", [(["mean"], 1.0), (["count_rows"], 0.0)])
def test_only_counts_with_a_positive_epsilon(measures, epsilon):
    counts = pd.DataFrame({tables.PERSONS: [1], tables.ROWS: [1]})
    with pytest.raises(ValueError):
        dp.noisy_cube(counts, dimensions=[], domains=[], measures=measures, epsilon=epsilon)
