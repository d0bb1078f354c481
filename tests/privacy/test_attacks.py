"""The re-identification attacks measured against anonymised extracts, repeated as tests.

Every attack runs on synthetic persons made here (a public-like register of a few thousand
citizens and their admissions) against the pure pipeline, as a company would receive the
extract, and counts the persons it re-identifies: a pseudonym pinned to exactly one register
person, who is really that person. Each must stay at or below 1 %, with no identifier leaking.
"""
from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from marketplace.delivery import generalise, pipeline, synthetic
from marketplace.delivery.pseudonymise import pseudonymise

APPROVED = datetime(2025, 6, 1, tzinfo=UTC)
PERSONS = 2_500
ROWS = 7_500
LIMIT = 0.01


def _with_age_bands(width: int) -> tuple[dict, ...]:
    return tuple({**c, "generalise": {"kind": "age_band", "width": width}}
                 if c["name"] == "birth_date" else dict(c) for c in synthetic.ADMISSION_COLUMNS)


FIVE_YEAR_BANDS = _with_age_bands(5)


@pytest.fixture(scope="module")
def register() -> pd.DataFrame:
    """The public-like register: CPR, birth date, sex and postcode of everyone."""
    return synthetic.population(PERSONS, seed=21, blind_index_key=b"r" * 32)


@pytest.fixture(scope="module")
def admissions(register: pd.DataFrame) -> pd.DataFrame:
    return synthetic.admissions_of(register, ROWS, seed=21)


def plan(permitted: tuple[str, ...], *, key: bytes = b"p" * 32, k: int = 5,
         columns: tuple[dict, ...] = synthetic.ADMISSION_COLUMNS) -> pipeline.ExtractPlan:
    return pipeline.ExtractPlan(
        columns=columns, subject_column="cpr", permitted=("cpr", *permitted), cohort={}, k=k,
        reference_date=APPROVED.date(), pseudonym_key=key, date_shift_key=b"s" * 32)


def release(frame: pd.DataFrame, extract_plan: pipeline.ExtractPlan, **options):
    chunks = lambda: (frame.iloc[i:i + 2_000] for i in range(0, len(frame), 2_000))  # noqa: E731
    released = pipeline.run_pandas(chunks, extract_plan, **options)
    out = pipeline.concat_released(released.chunks)
    return released.decision, out.astype({c: str for c in out.columns})


def truth(register: pd.DataFrame, extract_plan: pipeline.ExtractPlan) -> pd.Series:
    """Who each pseudonym really is (the platform's knowledge, never the company's)."""
    names = pseudonymise(register["_subject_key"], key=extract_plan.pseudonym_key).astype(str)
    return pd.Series(register["_subject_key"].to_numpy(), index=names.to_numpy())


def register_labels(register: pd.DataFrame, extract_plan: pipeline.ExtractPlan,
                    decision: pipeline.Decision) -> pd.DataFrame:
    """The register's static attributes spelled as the extract spells them."""
    labels = {}
    for rule, level in zip(extract_plan.quasi_identifiers, decision.anonymisation.node,
                           strict=True):
        if rule.column in register:
            base = generalise.base_labels(register[rule.column].reset_index(drop=True), rule,
                                          reference=APPROVED.date())
            labels[rule.column] = generalise.apply_level(base, rule, level).astype(str).to_numpy()
    return pd.DataFrame(labels, index=register["_subject_key"].to_numpy())


def static_candidates(out: pd.DataFrame, known: pd.DataFrame) -> dict[str, set[str]]:
    """Per pseudonym: the register persons whose static attributes fit its rows."""
    columns = list(known.columns)
    per_pseudonym = out.groupby("pseudonym")[columns].first()
    keyed = known.reset_index(names="person")
    merged = per_pseudonym.reset_index().merge(keyed, on=columns) if columns else None
    if merged is None:
        return {p: set(known.index) for p in per_pseudonym.index}
    return merged.groupby("pseudonym")["person"].agg(set).to_dict()


def no_leaks(out: pd.DataFrame, register: pd.DataFrame) -> int:
    cells = set(out.to_numpy().ravel())
    cprs = set(register["cpr"].astype(str)) | set(register["cpr"].astype(str).str.replace("-", ""))
    return len(cells & cprs) + len(cells & set(register["name"]))


def rate(hits: int, targets: int) -> float:
    print(f"re-identified {hits} of {targets}")  # shown with -s: the figure of each attack
    return hits / max(targets, 1)


def test_row_order_tells_nothing_about_an_upload_sorted_by_cpr(register, admissions):
    upload = admissions.sort_values("cpr", key=lambda c: c.astype(str)).reset_index(drop=True)
    extract_plan = plan(("birth_date", "sex", "postcode", "length_of_stay"))
    decision, out = release(upload, extract_plan)
    who = truth(register, extract_plan)
    known = register_labels(register, extract_plan, decision)
    # The attacker walks the register in CPR order along the extract's persons in order of
    # appearance, matching each to the next register person whose attributes fit.
    in_file = register[register["_subject_key"].isin(set(admissions["_subject_key"]))]
    ordered = known.loc[in_file.sort_values("cpr")["_subject_key"]]
    firsts = out.drop_duplicates("pseudonym")
    columns = list(known.columns)
    position, hits = 0, 0
    rows = ordered[columns].to_numpy()
    for pseudonym, *labels in firsts[["pseudonym", *columns]].itertuples(index=False):
        step = position
        while step < len(rows) and list(rows[step]) != labels:
            step += 1
        if step == len(rows):
            continue
        hits += ordered.index[step] == who[pseudonym]
        position = step + 1
    assert no_leaks(out, register) == 0
    assert rate(hits, len(firsts)) <= LIMIT, (hits, len(firsts))


def _period_fits(label: str, moment: pd.Timestamp) -> bool:
    if label == generalise.SUPPRESSED:
        return True
    year = str(moment.year)
    if len(label) == 4:
        return label == year
    if "-Q" in label:
        return label == f"{year}-Q{moment.quarter}"
    if len(label) == 7:  # a month: the known quarter cannot rule it in or out more finely
        return label[:4] == year and (int(label[5:7]) - 1) // 3 + 1 == moment.quarter
    return label[:4] == year and pd.Timestamp(label).quarter == moment.quarter


def test_a_register_plus_three_known_admission_quarters_pins_nobody(register, admissions):
    extract_plan = plan(("birth_date", "sex", "postcode", "admission_date"))
    decision, out = release(admissions, extract_plan)
    who = truth(register, extract_plan)
    candidates = static_candidates(out, register_labels(register, extract_plan, decision))
    periods = out.groupby("pseudonym")["admission_date"].agg(list)
    stays = admissions.groupby(admissions["_subject_key"].astype(str))["admission_date"].agg(list)
    targets = stays[stays.map(len) == 3]
    suspects: dict[str, list[str]] = {}
    for pseudonym, people in candidates.items():
        for person in people & set(targets.index):
            suspects.setdefault(person, []).append(pseudonym)
    hits = 0
    for person, known in targets.items():
        fitting = [p for p in suspects.get(person, [])
                   if all(any(_period_fits(label, moment) for label in periods[p])
                          for moment in known)]
        hits += len(fitting) == 1 and who[fitting[0]] == person
    assert no_leaks(out, register) == 0
    assert rate(hits, len(targets)) <= LIMIT, (hits, len(targets))


def test_a_register_plus_one_known_diagnosis_pins_nobody(register, admissions):
    extract_plan = plan(("birth_date", "sex", "postcode", "diagnosis"), columns=FIVE_YEAR_BANDS)
    decision, out = release(admissions, extract_plan)
    who = truth(register, extract_plan)
    candidates = static_candidates(out, register_labels(register, extract_plan, decision))
    codes = out.groupby("pseudonym")["diagnosis"].agg(set)
    known = admissions.drop_duplicates("_subject_key").set_index(
        admissions.drop_duplicates("_subject_key")["_subject_key"].astype(str))["diagnosis"]
    suspects: dict[str, list[str]] = {}
    for pseudonym, people in candidates.items():
        for person in people & set(known.index):
            suspects.setdefault(person, []).append(pseudonym)
    hits = 0
    for person, diagnosis in known.items():
        fitting = [p for p in suspects.get(person, [])
                   if any(label == "*" or str(diagnosis).startswith(label) for label in codes[p])]
        hits += len(fitting) == 1 and who[fitting[0]] == person
    assert no_leaks(out, register) == 0
    assert rate(hits, len(known)) <= LIMIT, (hits, len(known))


def test_content_linkage_across_two_permits_of_one_company_pins_nobody(register, admissions):
    columns = _with_age_bands(1)
    first = plan(("birth_date", "sex", "length_of_stay"), key=b"1" * 32, columns=columns)
    second = plan(("postcode", "length_of_stay"), key=b"2" * 32, columns=columns)
    first_decision, first_out = release(admissions, first)
    # The second permit's assessment knows what the company already holds from the first.
    companion = pipeline.Companion(frames=lambda: [admissions], plan=first,
                                   fixed=first_decision.levels)
    second_decision, second_out = release(admissions, second, companions=[companion])
    # Link the two files by content: each person's multiset of lengths of stay.
    def fingerprints(out: pd.DataFrame) -> pd.Series:
        return out.groupby("pseudonym")["length_of_stay"].agg(lambda s: tuple(sorted(s)))

    one, two = fingerprints(first_out), fingerprints(second_out)
    one = one[~one.duplicated(keep=False)]
    two = two[~two.duplicated(keep=False)]
    links = pd.merge(one.rename("f").reset_index(), two.rename("f").reset_index(), on="f",
                     suffixes=("_first", "_second"))
    known_first = register_labels(register, first, first_decision)
    known_second = register_labels(register, second, second_decision)
    static_first = first_out.groupby("pseudonym")[list(known_first.columns)].first()
    static_second = second_out.groupby("pseudonym")[list(known_second.columns)].first()
    combined = links.join(static_first, on="pseudonym_first").join(static_second,
                                                                  on="pseudonym_second")
    known = known_first.join(known_second).reset_index(names="person")
    keys = list(known_first.columns) + list(known_second.columns)
    matches = combined.merge(known, on=keys)
    per_link = matches.groupby("pseudonym_first")["person"].agg(list)
    who = truth(register, first)
    hits = sum(len(people) == 1 and who[p] == people[0] for p, people in per_link.items())
    assert no_leaks(first_out, register) == 0 and no_leaks(second_out, register) == 0
    assert rate(hits, first_out["pseudonym"].nunique()) <= LIMIT, (hits, len(links))


def test_the_manifest_figures_show_the_risk_before_and_after(register, admissions):
    extract_plan = plan(("birth_date", "sex", "postcode", "admission_date", "diagnosis"))
    decision, out = release(admissions, extract_plan)
    fields = decision.manifest_fields(extract_plan)
    assert fields["risk_before"]["unique_persons_share"] > 0.5
    assert fields["risk"]["unique_persons_share"] == 0
    assert fields["risk"]["max_prosecutor_risk"] <= 1 / 5
    assert fields["rows_dropped"]["suppression"] == len(admissions) - len(out)
    assert fields["generalisation"]["admission_date"] in ("quarter", "year", "suppressed")
    assert np.isclose(out["pseudonym"].nunique(), fields["persons_in"]
                      - fields["persons_suppressed"])


def _spellings(cpr: str, birth: pd.Timestamp) -> list[str]:
    """The ways a clinician or a system writes a CPR number in text."""
    d, s = cpr.replace("-", "")[:6], cpr.replace("-", "")[6:]
    full_width = "".join(chr(0xFF10 + int(c)) for c in d) + "\uff0d" + "".join(
        chr(0xFF10 + int(c)) for c in s)
    year = f"{birth.year:04d}"
    return [f"{d}-{s}", f"{d} {s}", f"{d[:2]}.{d[2:4]}.{d[4:]}-{s}",
            f"{d[:2]}/{d[2:4]}/{d[4:]}-{s}", f"{d}\u2013{s}", full_width,
            f"{d[:3]}\u200b{d[3:]}{s}", f"{d[:2]}-{d[2:4]}-{year}-{s}", f"{d}\u00a0{s}",
            f"{d}{s}"]


def test_cpr_numbers_in_any_spelling_never_reach_an_extract(register, admissions):
    """The attack: a free-text note carries the patient's CPR number, written every way it is
    written in practice; the extract must hold none of them."""
    people = register.set_index("_subject_key")
    births = pd.to_datetime(people["birth_date"])
    notes = []
    for i, key in enumerate(admissions["_subject_key"].astype(str)):
        cpr = str(people.at[key, "cpr"])
        forms = _spellings(cpr, births[key])
        notes.append(f"Kontrol, pt. {forms[i % len(forms)]} stabil")
    with_notes = admissions.assign(note=pd.Categorical(notes))
    _, out = release(with_notes, plan(("sex", "note"), k=5))
    assert len(out) > len(admissions) // 2
    digits = {cpr.replace("-", "") for cpr in register["cpr"].astype(str)}
    leaked = 0
    for note in out["note"].unique():
        plain = "".join(ch for ch in unicodedata.normalize("NFKC", note) if ch.isdigit())
        leaked += any(plain[i:i + 10] in digits for i in range(len(plain) - 9))
        leaked += any((plain[i:i + 4] + plain[i + 6:i + 12]) in digits
                      for i in range(len(plain) - 11))
    assert leaked == 0
    assert set(out["note"].unique()) == {"Kontrol, pt. [CPR] stabil"}
