"""Disclosure control of cubes: primary and secondary suppression, rounding."""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from marketplace.statistics import sdc, tables


def cube_of(counts: dict[tuple[str, str], int]) -> pd.DataFrame:
    """A 2-D cube with its margins, persons as given (each person in one cell)."""
    rows = []
    a_values = sorted({a for a, _ in counts})
    b_values = sorted({b for _, b in counts})
    for a, b in itertools.product([*a_values, None], [*b_values, None]):
        total = sum(v for (x, y), v in counts.items()
                    if (a is None or x == a) and (b is None or y == b))
        if total:
            rows.append({"a": a, "b": b, tables.PERSONS: total})
    return pd.DataFrame(rows)


def recoverable(cube: pd.DataFrame, suppressed: np.ndarray) -> bool:
    lines: dict = {}
    for index, (a, b) in enumerate(zip(cube["a"], cube["b"], strict=True)):
        lines.setdefault(("a", b), []).append(index)
        lines.setdefault(("b", a), []).append(index)
    return any(sum(suppressed[m] for m in members) == 1
               for members in lines.values() if len(members) > 1)


def test_a_small_cell_and_its_partners_are_suppressed():
    cube = cube_of({("x", "p"): 2, ("x", "q"): 30, ("y", "p"): 40, ("y", "q"): 50})
    protection = sdc.protect(cube, dimensions=["a", "b"], threshold=5)
    hidden = {(a, b) for a, b, s in zip(cube["a"], cube["b"], protection.suppressed,
                                        strict=True) if s}
    assert ("x", "p") in hidden and protection.primary == 1
    assert protection.secondary >= 3  # its row, its column and the opposite corner
    assert not recoverable(cube, protection.suppressed)


@pytest.mark.parametrize("seed", range(20))
def test_no_suppressed_cell_is_ever_alone_on_a_line(seed):
    rng = np.random.default_rng(seed)
    counts = {(f"a{i}", f"b{j}"): int(rng.integers(1, 15)) for i in range(5) for j in range(4)
              if rng.random() > 0.2}
    cube = cube_of(counts)
    protection = sdc.protect(cube, dimensions=["a", "b"], threshold=5)
    assert not recoverable(cube, protection.suppressed)
    persons = cube[tables.PERSONS].to_numpy()
    assert protection.suppressed[(persons > 0) & (persons < 5)].all()


def test_a_single_member_line_hides_its_margin_too():
    cube = cube_of({("x", "p"): 3, ("y", "q"): 40, ("y", "p"): 30})
    protection = sdc.protect(cube, dimensions=["a", "b"], threshold=5)
    margin_x = cube.index[(cube["a"] == "x") & cube["b"].isna()][0]
    assert protection.suppressed[margin_x]


def test_nothing_is_suppressed_when_every_cell_is_large():
    cube = cube_of({("x", "p"): 20, ("x", "q"): 30})
    assert not sdc.protect(cube, dimensions=["a", "b"], threshold=5).suppressed.any()


@pytest.mark.parametrize("value, base, rounded", [
    (0, 5, 0), (2, 5, 0), (2.5, 5, 5), (7, 5, 5), (8, 5, 10), (12, 10, 10), (15, 10, 20),
    (3, 1, 3)])
def test_rounding_to_the_holders_base(value, base, rounded):
    assert sdc.round_to(value, base) == rounded
