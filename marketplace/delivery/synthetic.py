"""Synthetic hospital admissions with real-looking CPR numbers, for tests, benchmarks and demo.

Deterministic for a seed; vectorised so that millions of rows take seconds.
"""
from __future__ import annotations

import hashlib
import hmac

import numpy as np
import pandas as pd

ADMISSION_COLUMNS: tuple[dict, ...] = (
    {"name": "cpr", "type": "string", "role": "direct_identifier", "identifier_kind": "cpr"},
    {"name": "name", "type": "string", "role": "direct_identifier", "identifier_kind": "name"},
    {"name": "address", "type": "string", "role": "direct_identifier",
     "identifier_kind": "address"},
    {"name": "birth_date", "type": "date", "role": "quasi_identifier", "concept": "birth_date",
     "generalise": {"kind": "age_band", "width": 10}},
    {"name": "sex", "type": "category", "role": "quasi_identifier", "concept": "sex"},
    {"name": "postcode", "type": "string", "role": "quasi_identifier", "concept": "postcode",
     "generalise": {"kind": "postcode", "to": "municipality"}},
    {"name": "admission_date", "type": "date", "role": "quasi_identifier",
     "concept": "event_date", "generalise": {"kind": "date", "to": "month"}},
    {"name": "diagnosis", "type": "string", "role": "sensitive", "concept": "diagnosis"},
    {"name": "length_of_stay", "type": "integer", "role": "attribute"},
    {"name": "note", "type": "string", "role": "direct_identifier",
     "identifier_kind": "free_text"},
)

_FIRST = np.array(["Anne", "Mette", "Kirsten", "Hanne", "Peter", "Jens", "Lars", "Michael",
                   "Søren", "Henrik", "Ida", "Freja", "Mads", "Emil"])
_LAST = np.array(["Jensen", "Nielsen", "Hansen", "Pedersen", "Andersen", "Christensen",
                  "Larsen", "Sørensen", "Rasmussen", "Jørgensen"])
_STREETS = np.array(["Nørregade", "Vesterbrogade", "Amagerbrogade", "Roskildevej",
                     "Herlev Hovedgade", "Hovedvejen", "Park Allé"])
_POSTCODES = np.array(["1050", "2100", "2200", "2300", "2450", "2605", "2620", "2660", "2730",
                       "2900"])
_DIAGNOSES = np.array(["DJ441", "DJ449", "DJ45", "DI109", "DI639", "DE119", "DC341", "DF329",
                       "DM545", "DS720", "DI500", "DN390"])


def citizens(n: int, *, seed: int = 0) -> pd.DataFrame:
    """Return `n` distinct synthetic citizens: cpr, name, address, postcode, birth_date, sex."""
    rng = np.random.default_rng(seed)
    born = pd.Timestamp("1930-01-01") + pd.to_timedelta(rng.integers(0, 365 * 70, n), unit="D")
    serial = rng.permutation(1000 * 4)[: n % 4000 or 4000]
    # Distinct CPRs: vary the serial per birth date by position (up to 4,000 per day).
    index = np.arange(n)
    seventh = (index // 1000) % 4  # 0..3: born in the 1900s whatever the year
    last3 = (index + serial[index % len(serial)]) % 1000
    cpr = (
        pd.Series(born.strftime("%d%m%y"))
        + "-"
        + pd.Series(seventh.astype(str))
        + pd.Series(last3).map("{:03d}".format)
    )
    cpr = cpr.where(~cpr.duplicated(), None)
    frame = pd.DataFrame(
        {
            "cpr": cpr,
            "name": pd.Series(_FIRST[rng.integers(0, len(_FIRST), n)])
            + " "
            + pd.Series(_LAST[rng.integers(0, len(_LAST), n)]),
            "address": pd.Series(_STREETS[rng.integers(0, len(_STREETS), n)])
            + " "
            + pd.Series(rng.integers(1, 200, n).astype(str)),
            "postcode": _POSTCODES[rng.integers(0, len(_POSTCODES), n)],
            "birth_date": born.date,
        }
    ).dropna(subset=["cpr"])
    last_digit = frame["cpr"].str[-1].astype(int)
    frame["sex"] = np.where(last_digit % 2 == 1, "male", "female")
    return frame.reset_index(drop=True)


def subject_keys(cprs: pd.Series, *, blind_index_key: bytes) -> pd.Series:
    """The blind index of each CPR (HMAC-SHA256 of the ten digits), computed once per person."""
    codes, uniques = pd.factorize(cprs)
    digits = pd.Index(uniques).astype(str).str.replace("-", "", regex=False)
    keyed = np.array(
        [hmac.new(blind_index_key, d.encode(), hashlib.sha256).hexdigest() for d in digits],
        dtype=object,
    )
    return pd.Series(keyed[codes], index=cprs.index, dtype="str")


def population(persons: int, *, seed: int = 0, blind_index_key: bytes = b"\0" * 32
               ) -> pd.DataFrame:
    """Synthetic citizens with their stored blind index (`_subject_key`)."""
    people = citizens(persons, seed=seed)
    people["_subject_key"] = subject_keys(people["cpr"], blind_index_key=blind_index_key)
    return people


def admissions_of(people: pd.DataFrame, rows: int, *, seed: int = 0) -> pd.DataFrame:
    """`rows` admissions of the given people (grouped per person, as hospitals export them)."""
    rng = np.random.default_rng(seed + 1)
    who = rng.integers(0, len(people), rows)
    who.sort(kind="stable")
    chosen = people.iloc[who].reset_index(drop=True)
    admitted = pd.Timestamp("2018-01-01") + pd.to_timedelta(rng.integers(0, 365 * 6, rows), "D")
    return pd.DataFrame(
        {
            "cpr": chosen["cpr"].astype("category"),
            "name": chosen["name"].astype("category"),
            "address": chosen["address"].astype("category"),
            "birth_date": pd.to_datetime(chosen["birth_date"]),
            "sex": chosen["sex"].astype("category"),
            "postcode": chosen["postcode"].astype("category"),
            "admission_date": admitted,
            "diagnosis": pd.Categorical(_DIAGNOSES[rng.integers(0, len(_DIAGNOSES), rows)]),
            "length_of_stay": rng.integers(0, 30, rows),
            "note": pd.Categorical(
                np.where(rng.random(rows) < 0.5, "Stabil ved udskrivning", "Kontrol om 3 mdr.")
            ),
            "_subject_key": chosen["_subject_key"].astype("category"),
        }
    )


def admissions(
    rows: int, persons: int, *, seed: int = 0, blind_index_key: bytes = b"\0" * 32
) -> pd.DataFrame:
    """Return `rows` admissions of `persons` citizens, with the stored `_subject_key` column."""
    people = population(persons, seed=seed, blind_index_key=blind_index_key)
    return admissions_of(people, rows, seed=seed)
