"""Statistical disclosure control of a cube: threshold, secondary suppression, rounding.

Pure module. A cube holds every cell and every margin (see `tables.aggregate`); each margin is
the sum of the cells on a line through it. A cell under the threshold is suppressed (primary).
A line with exactly one suppressed entry would give it away by subtraction, so the smallest
other entry of that line is suppressed too (secondary), and this repeats until no line holds a
single suppressed entry. Counts are then rounded to the holder's base.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from marketplace.statistics.tables import PERSONS


@dataclass(frozen=True)
class Protection:
    """Which cells may be shown: `suppressed[i]` is True for a hidden cell."""

    suppressed: np.ndarray
    primary: int
    secondary: int


def round_to(value: float, base: int) -> int:
    """Round a count to the nearest multiple of `base` (halves go up)."""
    return int(np.floor(value / base + 0.5)) * base


def _lines(keys: Sequence[tuple[Hashable, ...]], dimensions: int) -> list[list[int]]:
    """Each line of the cube: the cells that differ only in one dimension, with its margin."""
    lines: dict[tuple[int, tuple[Hashable, ...]], list[int]] = defaultdict(list)
    for index, key in enumerate(keys):
        for d in range(dimensions):
            lines[(d, key[:d] + key[d + 1:])].append(index)
    return [members for members in lines.values() if len(members) > 1]


def protect(cube: pd.DataFrame, *, dimensions: Sequence[str], threshold: int) -> Protection:
    """Suppress cells with fewer than `threshold` persons, then enough others that no
    suppressed cell can be recovered from its row, column or margin."""
    persons = cube[PERSONS].to_numpy(dtype=np.int64)
    suppressed = (persons > 0) & (persons < threshold)
    primary = int(suppressed.sum())
    keys = list(zip(*(cube[d].tolist() for d in dimensions), strict=True)) if dimensions \
        else [()] * len(cube)
    lines = _lines(keys, len(dimensions))
    secondary = 0
    changed = primary > 0
    while changed:
        changed = False
        for members in lines:
            hidden = [m for m in members if suppressed[m]]
            if len(hidden) != 1:
                continue
            candidates = [m for m in members if not suppressed[m]]
            # The smallest other entry costs the least information; the margin is the largest.
            chosen = min(candidates, key=lambda m: (persons[m], m))
            suppressed[chosen] = True
            secondary += 1
            changed = True
    return Protection(suppressed=suppressed, primary=primary, secondary=secondary)
