"""Generalisation of quasi-identifiers, per the dataset descriptor's `generalise` rule.

Every rule turns raw values into labels (categorical: the work happens on distinct values, never
per row) and names the coarser levels the k-anonymity search may climb to when the descriptor's
own level would suppress too much. Every ladder ends in "*" (value fully suppressed).
Diagnosis codes and similar (kind "code") climb from the full code to the ICD-10 category and
the chapter letter.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

SUPPRESSED = "*"
MISSING = "NA"  # the label of a missing value: a value of its own, generalised like the rest

# Danish regions (DAGI codes) and the municipalities of each (kommunekoder).
_MUNICIPALITIES_OF_REGION = {
    "1084": "101 147 151 153 155 157 159 161 163 165 167 169 173 175 183 185 187 190 201 210 "
            "217 219 223 230 240 250 260 270 400 411",
    "1085": "253 259 265 269 306 316 320 326 329 330 336 340 350 360 370 376 390",
    "1083": "410 420 430 440 450 461 479 480 482 492 510 530 540 550 561 563 573 575 580 607 "
            "621 630",
    "1082": "615 657 661 665 671 706 707 710 727 730 740 741 746 751 756 760 766 779 791",
    "1081": "773 787 810 813 820 825 840 846 849 851 860",
}
REGION_OF_MUNICIPALITY: dict[str, str] = {
    municipality: region
    for region, municipalities in _MUNICIPALITIES_OF_REGION.items()
    for municipality in municipalities.split()
}

# Postcodes of Greater Copenhagen with the municipality that holds (most of) each.
_MUNICIPALITY_OF_POSTCODE_RANGES: tuple[tuple[int, int, str], ...] = (
    (1000, 1999, "101"),
    (2000, 2000, "147"),
    (2100, 2300, "101"),
    (2400, 2500, "101"),
    (2600, 2600, "161"),
    (2605, 2605, "153"),
    (2610, 2610, "175"),
    (2620, 2620, "165"),
    (2625, 2625, "187"),
    (2630, 2630, "169"),
    (2635, 2635, "183"),
    (2640, 2640, "169"),
    (2650, 2650, "167"),
    (2660, 2660, "153"),
    (2665, 2665, "187"),
    (2670, 2670, "253"),
    (2680, 2680, "269"),
    (2690, 2690, "259"),
    (2700, 2720, "101"),
    (2730, 2730, "163"),
    (2740, 2760, "151"),
    (2765, 2765, "240"),
    (2770, 2770, "185"),
    (2791, 2791, "155"),
    (2800, 2800, "173"),
    (2820, 2820, "157"),
    (2830, 2830, "173"),
    (2840, 2840, "230"),
    (2850, 2850, "230"),
    (2860, 2880, "159"),
    (2900, 2930, "157"),
    (2942, 2942, "230"),
    (2950, 2950, "230"),
    (2960, 2960, "223"),
    (2970, 2970, "223"),
    (2980, 2980, "210"),
    (2990, 2990, "210"),
)

# Coarse postcode ranges -> region, for postcodes outside the table above.
_REGION_OF_POSTCODE_RANGES: tuple[tuple[int, int, str], ...] = (
    (1000, 3699, "1084"),
    (3700, 3799, "1084"),
    (4000, 4999, "1085"),
    (5000, 6899, "1083"),
    (6900, 8999, "1082"),
    (9000, 9999, "1081"),
)

Level = Callable[[pd.Index], pd.Index]


@dataclass(frozen=True)
class Rule:
    """How one quasi-identifier is generalised: the base labelling and its coarser levels."""

    column: str
    kind: str
    spec: Mapping

    @property
    def needs_person(self) -> bool:
        return self.kind == "date" and self.spec.get("to") == "shift"


def rule_for(column: Mapping) -> Rule:
    """Read the `generalise` rule of a descriptor column (identity when it has none)."""
    spec = dict(column.get("generalise") or {})
    return Rule(column=column["name"], kind=spec.get("kind", "none"), spec=spec)


def _from_distinct(codes: np.ndarray, labels: np.ndarray | pd.Index, index: pd.Index
                   ) -> pd.Series:
    """Build a categorical from per-row codes into `labels` (labels of distinct raw values).

    Several raw values may share a label; codes are remapped so categories stay unique.
    """
    text = pd.Index(labels).fillna(MISSING).astype(str)
    if (codes < 0).any():
        codes = np.where(codes >= 0, codes, len(text))
        text = text.append(pd.Index([MISSING]))
    label_codes, categories = pd.factorize(text, sort=True)
    remapped = label_codes[codes]
    return pd.Series(
        pd.Categorical.from_codes(remapped, categories=pd.Index(categories), validate=False),
        index=index,
    )


def _as_labels(series: pd.Series) -> pd.Series:
    """Make a categorical of string labels out of any series, converting distinct values only."""
    codes, uniques = pd.factorize(series, sort=True)
    return _from_distinct(codes, pd.Index(uniques).astype(str).to_numpy(), series.index)


def _map_categories(series: pd.Series, mapping: Level) -> pd.Series:
    """Apply `mapping` to the distinct labels of a categorical and rebuild it."""
    cat = series.astype("category").cat
    mapped = pd.Index(mapping(pd.Index(cat.categories.astype(str))))
    return _from_distinct(cat.codes.to_numpy(), mapped.to_numpy(), series.index)


def _band_label(lower: np.ndarray, width: int) -> np.ndarray:
    return np.char.add(np.char.add(lower.astype(str), "-"), (lower + width - 1).astype(str))


def age_years(values: pd.Series, reference: date) -> pd.Series:
    """Whole years of age on `reference` of people born on `values`."""
    born = pd.to_datetime(values, errors="coerce")
    ref = pd.Timestamp(reference)
    years = ref.year - born.dt.year
    before_birthday = (born.dt.month > ref.month) | (
        (born.dt.month == ref.month) & (born.dt.day > ref.day)
    )
    return years - before_birthday.astype("int64")


def _age_band(values: pd.Series, width: int, reference: date) -> pd.Series:
    if pd.api.types.is_numeric_dtype(values):
        codes, uniques = pd.factorize(values, sort=True)
        ages = np.asarray(uniques, dtype=np.int64)
    else:
        # Age depends on the birth date only: compute it once per distinct date.
        codes, uniques = pd.factorize(pd.to_datetime(values, errors="coerce"), sort=True)
        ages = age_years(pd.Series(uniques), reference).to_numpy(dtype=np.int64)
    lower = (ages // width) * width
    return _from_distinct(codes, _band_label(lower, width), values.index)


def _widen_band(width: int) -> Level:
    def widen(labels: pd.Index) -> pd.Index:
        lower = pd.to_numeric(labels.str.split("-").str[0], errors="coerce")
        valid = ~np.isnan(lower)
        new_lower = (np.nan_to_num(lower).astype(np.int64) // width) * width
        return pd.Index(np.where(valid, _band_label(new_lower, width), SUPPRESSED))

    return widen


def _date_labels(moments: pd.DatetimeIndex, to: str) -> np.ndarray:
    if to == "quarter":
        return np.char.add(np.char.add(moments.strftime("%Y").to_numpy().astype(str), "-Q"),
                           moments.quarter.astype(str).to_numpy())
    if to == "week":
        iso = moments.isocalendar()
        return np.array([f"{y}-W{w:02d}" for y, w in zip(iso["year"], iso["week"], strict=True)])
    fmt = {"year": "%Y", "month": "%Y-%m"}.get(to, "%Y-%m-%d")
    return moments.strftime(fmt).to_numpy().astype(str)


def _dates(values: pd.Series, to: str, offsets: np.ndarray | None) -> pd.Series:
    moments = pd.to_datetime(values, errors="coerce")
    if to == "shift":
        moments = moments + pd.to_timedelta(offsets, unit="D")
    codes, uniques = pd.factorize(moments.dt.normalize(), sort=True)
    return _from_distinct(codes, _date_labels(pd.DatetimeIndex(uniques), to), values.index)


def _prefix(chars: int) -> Level:
    def cut(labels: pd.Index) -> pd.Index:
        return pd.Index(labels.str.slice(0, chars))

    return cut


def _lookup_ranges(numbers: np.ndarray, ranges: tuple[tuple[int, int, str], ...]) -> np.ndarray:
    out = np.full(len(numbers), SUPPRESSED, dtype=object)
    for low, high, code in ranges:
        out[(numbers >= low) & (numbers <= high) & (out == SUPPRESSED)] = code
    return out


def municipality_of_postcode(postcodes: pd.Index) -> pd.Index:
    """Map postcodes to the municipality code that holds them ("*" when unknown)."""
    numbers = pd.to_numeric(pd.Index(postcodes), errors="coerce").to_numpy(dtype=float)
    known = np.nan_to_num(numbers, nan=-1)
    return pd.Index(_lookup_ranges(known, _MUNICIPALITY_OF_POSTCODE_RANGES))


def region_of_postcode(postcodes: pd.Index) -> pd.Index:
    """Map postcodes to the region code that holds them ("*" when unknown)."""
    numbers = pd.to_numeric(pd.Index(postcodes), errors="coerce").to_numpy(dtype=float)
    return pd.Index(_lookup_ranges(np.nan_to_num(numbers, nan=-1), _REGION_OF_POSTCODE_RANGES))


def region_of_municipality(codes: pd.Index) -> pd.Index:
    """Map municipality codes to region codes ("*" when unknown)."""
    normalised = pd.Index(codes).astype(str).str.lstrip("0")
    return pd.Index([REGION_OF_MUNICIPALITY.get(c, SUPPRESSED) for c in normalised])


def _quarter(labels: pd.Index) -> pd.Index:
    """"2021-03" or "2021-03-09" -> "2021-Q1" (labels that are not dates are suppressed)."""
    labels = pd.Index(labels).astype(str)
    month = pd.to_numeric(labels.str.slice(5, 7), errors="coerce")
    valid = ~np.isnan(month) & labels.str.match(r"^\d{4}-\d{2}")
    quarter = ((np.nan_to_num(month, nan=1).astype(np.int64) - 1) // 3 + 1).astype(str)
    return pd.Index(np.where(valid, labels.str.slice(0, 4) + "-Q" + quarter, SUPPRESSED))


def _sks_prefixed(labels: pd.Index) -> np.ndarray:
    """Danish SKS diagnosis codes are ICD-10 codes behind a "D" (DJ441 is ICD-10 J44.1)."""
    return np.asarray(labels.str.match(r"^D[A-Z]"), dtype=bool)


def _code_category(labels: pd.Index) -> pd.Index:
    """ICD-10 category: the letter and two digits (DJ441 -> DJ44, J441 -> J44)."""
    labels = pd.Index(labels).astype(str).str.upper().str.replace(".", "", regex=False)
    return pd.Index(np.where(_sks_prefixed(labels), labels.str.slice(0, 4),
                             labels.str.slice(0, 3)))


def _code_chapter(labels: pd.Index) -> pd.Index:
    """The code's letter (DJ441 -> DJ, J441 -> J): roughly the ICD-10 chapter."""
    labels = pd.Index(labels).astype(str).str.upper()
    return pd.Index(np.where(_sks_prefixed(labels), labels.str.slice(0, 2),
                             labels.str.slice(0, 1)))


def _suppress_all(labels: pd.Index) -> pd.Index:
    return pd.Index([SUPPRESSED] * len(labels))


def base_labels(
    values: pd.Series,
    rule: Rule,
    *,
    reference: date,
    offsets: np.ndarray | None = None,
) -> pd.Series:
    """Generalise raw values to the descriptor's level, as a categorical of labels.

    `offsets` are the per-citizen day offsets for a date shift; `reference` is the date ages are
    computed at (the permit's approval date).
    """
    spec = rule.spec
    if rule.kind == "age_band":
        return _age_band(values, int(spec.get("width", 5)), reference)
    if rule.kind == "date":
        return _dates(values, spec.get("to", "month"), offsets)
    if rule.kind == "postcode":
        by_municipality = spec.get("to") == "municipality"
        mapping = municipality_of_postcode if by_municipality else region_of_postcode
        return _map_categories(_as_labels(values), mapping)
    if rule.kind == "truncate":
        return _map_categories(_as_labels(values), _prefix(int(spec.get("chars", 3))))
    return _as_labels(values)


def coarser_levels(rule: Rule) -> list[Level]:
    """Return the mappings from base labels to each coarser level, least to most general."""
    spec = rule.spec
    levels: list[Level] = []
    if rule.kind == "age_band":
        width = int(spec.get("width", 5))
        levels = [_widen_band(width * factor) for factor in (2, 4) if width * factor <= 40]
    elif rule.kind == "date":
        to = spec.get("to", "month")
        if to in ("shift", "day"):
            levels = [_prefix(7), _quarter, _prefix(4)]
        elif to == "month":
            levels = [_quarter, _prefix(4)]
        elif to in ("quarter", "week"):
            levels = [_prefix(4)]
    elif rule.kind == "code":
        levels = [_code_category, _code_chapter]
    elif rule.kind == "postcode" and spec.get("to") == "municipality":
        levels = [region_of_municipality]
    elif rule.kind == "truncate":
        chars = int(spec.get("chars", 3))
        levels = [_prefix(n) for n in range(chars - 1, 0, -1)]
    return [*levels, _suppress_all]


def describe_level(rule: Rule, level: int) -> str:
    """Say in a few words what the values of a quasi-identifier are at a level of its ladder."""
    if level >= len(coarser_levels(rule)):
        return "suppressed"
    spec = rule.spec
    if rule.kind == "age_band":
        width = int(spec.get("width", 5)) * (1, 2, 4)[level]
        return f"age band of {width} years"
    if rule.kind == "date":
        to = spec.get("to", "month")
        ladder = {"shift": ["day, shifted per person", "month", "quarter", "year"],
                  "day": ["day", "month", "quarter", "year"], "month": ["month", "quarter", "year"],
                  "quarter": ["quarter", "year"], "week": ["week", "year"], "year": ["year"]}
        return ladder.get(to, [to])[level]
    if rule.kind == "postcode":
        to = spec.get("to", "region")
        return ["municipality", "region"][level] if to == "municipality" else to
    if rule.kind == "truncate":
        return f"first {int(spec.get('chars', 3)) - level} characters"
    if rule.kind == "code":
        return ["full code", "ICD-10 category", "ICD-10 chapter letter"][level]
    return "as recorded"


def apply_level(series: pd.Series, rule: Rule, level: int) -> pd.Series:
    """Move base labels up to `level` of the rule's ladder (0 = the descriptor's own level)."""
    if level == 0:
        return series
    return _map_categories(series, coarser_levels(rule)[level - 1])
