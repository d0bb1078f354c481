"""The pure pipeline: no identity leaves, k holds in distinct citizens, consent as of approval,
and the pandas and Dask executors agree."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marketplace.consent import evaluation
from marketplace.delivery import leaks, pipeline, synthetic
from marketplace.delivery.pseudonymise import pseudonymise

APPROVED = datetime(2025, 6, 1, 12, tzinfo=UTC)
OUTPUT = ("cpr", "name", "address", "birth_date", "sex", "postcode", "admission_date",
          "diagnosis", "length_of_stay", "note")


def plan_for(k: int = 3, *, include=None, cohort=None, permitted=OUTPUT, columns=None,
             key: bytes = b"k" * 32, suppression: float = 0.05) -> pipeline.ExtractPlan:
    return pipeline.ExtractPlan(
        columns=tuple(columns or synthetic.ADMISSION_COLUMNS), subject_column="cpr",
        permitted=tuple(permitted), cohort=cohort or {}, k=k, reference_date=APPROVED.date(),
        pseudonym_key=key, date_shift_key=b"s" * 32, include=include,
        max_suppressed_fraction=suppression)


def run(frame: pd.DataFrame, plan: pipeline.ExtractPlan, chunk: int = 97):
    chunks = lambda: (frame.iloc[i:i + chunk] for i in range(0, len(frame), chunk))  # noqa: E731
    released = pipeline.run_pandas(chunks, plan)
    return released.decision, pipeline.concat_released(released.chunks)


def record_sizes(out: pd.DataFrame, plan) -> pd.Series:
    """How many persons share each released person's whole record (all rows' quasi-identifiers)."""
    qis = [r.column for r in plan.quasi_identifiers]
    rows = out[qis].astype(str).agg("|".join, axis=1)
    records = rows.groupby(out["pseudonym"].astype(str).to_numpy()).agg(
        lambda r: "#".join(sorted(r)))
    return records.map(records.value_counts())


data_shapes = st.tuples(st.integers(20, 400), st.integers(5, 120), st.integers(0, 10_000),
                        st.integers(2, 8))


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data_shapes)
def test_no_output_ever_contains_an_input_cpr_name_or_address(shape):
    rows, persons, seed, k = shape
    frame = synthetic.admissions(rows, persons, seed=seed)
    frame["note"] = ("Kontrol af " + frame["cpr"].astype(str) + " hos egen læge"
                     ).astype("category")
    _, out = run(frame, plan_for(k))
    assert "cpr" not in out and "name" not in out and "address" not in out
    cells = set(out.astype(str).to_numpy().ravel())
    text = "\n".join(cells)
    for cpr in frame["cpr"].astype(str).unique():
        assert cpr not in text and cpr.replace("-", "") not in text
    for address in frame["address"].astype(str).unique():
        assert address not in cells
    for name in frame["name"].astype(str).unique():
        assert name not in cells


@pytest.mark.parametrize("note", [
    lambda row: f"Samtale med {row['name']} om medicin",
    lambda row: f"Besøg på {row['address'].split(',')[0]} i går",
    lambda row: f"Hjemmebesøg: {row['address'].upper()}",
    lambda row: "Født " + row["birth_date"].strftime("%d.%m.%Y"),
    lambda row: "Født " + row["birth_date"].strftime("%Y-%m-%d") + ", rask",
    lambda row: "Pårørende: " + "\uff21" + row["name"][1:],
])
def test_a_note_holding_the_inputs_own_identifier_stops_the_extract(note):
    frame = synthetic.admissions(120, 30, seed=4)
    frame["note"] = frame.apply(note, axis=1).astype("category")
    if "\uff21" in frame["note"].iloc[0]:
        # A full-width first letter is the same name to a reader.
        frame["note"] = frame.apply(
            lambda row: "Pårørende: " + chr(0xFF21 + ord(row["name"][0].upper()) - ord("A"))
            + row["name"][1:], axis=1).astype("category")
    with pytest.raises(leaks.LeakFound) as found:
        run(frame, plan_for(2, permitted=("cpr", "sex", "note")))
    assert "note" in str(found.value)


def test_notes_without_identifiers_pass_the_scan():
    frame = synthetic.admissions(120, 30, seed=4)
    frame["note"] = pd.Categorical(["Stabil, kontrol 12.03.2024 hos Jensen"] * len(frame))
    _, out = run(frame, plan_for(2, permitted=("cpr", "sex", "note")))
    assert len(out) > len(frame) // 2


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data_shapes)
def test_every_released_persons_whole_record_is_shared_by_at_least_k_citizens(shape):
    rows, persons, seed, k = shape
    frame = synthetic.admissions(rows, persons, seed=seed)
    plan = plan_for(k, suppression=0.0)
    decision, out = run(frame, plan)
    if len(out):
        assert record_sizes(out, plan).min() >= k
        assert decision.anonymisation.achieved_k >= k
    assert len(out) + decision.anonymisation.rows_suppressed == len(frame)


def test_five_admissions_of_one_citizen_count_as_one_person():
    frame = synthetic.admissions(50, 20, seed=1)
    one = frame.iloc[[0] * 5].copy()
    one["sex"] = one["sex"].cat.add_categories(["other"]).fillna("other")
    one["sex"] = "other"
    frame = pd.concat([frame, one], ignore_index=True)
    plan = plan_for(2, permitted=("cpr", "sex"), suppression=0.5)
    decision, out = run(frame, plan)
    assert "other" not in set(out["sex"].astype(str))
    assert decision.anonymisation.rows_suppressed >= 5


def test_l_diversity_suppresses_classes_with_one_diagnosis():
    columns = [dict(c) for c in synthetic.ADMISSION_COLUMNS]
    next(c for c in columns if c["name"] == "diagnosis")["l_diversity"] = 2
    frame = synthetic.admissions(300, 100, seed=3)
    lonely = frame.iloc[:4].copy()
    lonely["cpr"] = ["0101011234", "0202021234", "0303031234", "0404041234"]
    lonely["_subject_key"] = ["a" * 64, "b" * 64, "c" * 64, "d" * 64]
    lonely["postcode"] = "9000"
    lonely["diagnosis"] = "DJ441"
    frame = pd.concat([frame.astype({"cpr": str, "_subject_key": str, "postcode": str,
                                     "diagnosis": str}), lonely], ignore_index=True)
    plan = plan_for(2, columns=columns, permitted=("cpr", "postcode", "diagnosis"),
                    suppression=0.5)
    _, out = run(frame, plan)
    assert out.groupby("postcode", observed=True)["diagnosis"].nunique().min() >= 2


def test_generalisation_is_raised_when_the_descriptor_level_suppresses_too_much():
    frame = synthetic.admissions(400, 150, seed=5)
    plan = plan_for(5, permitted=("cpr", "birth_date", "admission_date"), suppression=0.2)
    decision, out = run(frame, plan)
    assert len(out) + decision.anonymisation.rows_suppressed == len(frame)
    assert decision.anonymisation.rows_suppressed <= 0.2 * len(frame)
    assert sum(decision.anonymisation.node) > 0
    assert record_sizes(out, plan).min() >= 5


opt_out_times = st.lists(st.integers(-400, 400), min_size=1, max_size=12)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(opt_out_times, st.sampled_from(["opt_out", "opt_in"]))
def test_opt_outs_before_approval_exclude_and_after_approval_do_not(days, model):
    frame = synthetic.admissions(200, 40, seed=11)
    keys = frame["_subject_key"].astype(str).unique()
    chosen = keys[: len(days)]
    at = [APPROVED + timedelta(hours=d) for d in days]
    events = pd.DataFrame({
        "subject_key": list(chosen) * 2,
        "at": [APPROVED - timedelta(days=900)] * len(chosen) + at,
        "decision": ["permit"] * len(chosen) + ["opt_out"] * len(chosen),
        "scope_type": ["all"] * len(chosen) * 2,
        "scope_id": [None] * len(chosen) * 2,
        "purpose": ["company_research"] * len(chosen) + [None] * len(chosen),
    })
    snapshot = evaluation.build_snapshot(events, purpose="company_research", holder_org_id=1,
                                         dataset_id=1, as_of=APPROVED)
    include = partial(evaluation.included_mask, snapshot=snapshot, consent_model=model)
    plan = plan_for(1, include=include, permitted=("cpr", "sex"))
    released = pipeline.run_pandas(lambda: [frame], plan)
    out_keys = set(np.concatenate([c.subject_keys for c in released.chunks]))
    for key, when in zip(chosen, at, strict=True):
        if when <= APPROVED:
            assert key not in out_keys
        else:
            assert key in out_keys
    if model == "opt_in":
        assert out_keys <= set(chosen)


def test_cohort_filter_keeps_only_the_permitted_cohort():
    frame = synthetic.admissions(500, 120, seed=2)
    cohort = {"age": [40, 60], "sex": ["female"], "diagnoses": ["DJ44"],
              "period": {"start": "2020-01-01", "end": "2021-12-31"},
              "municipalities": ["101"]}
    plan = plan_for(1, cohort=cohort)
    mask = pipeline.cohort_mask(frame, columns=plan.columns, cohort=cohort,
                                reference_date=plan.reference_date)
    chosen = frame[mask]
    assert len(chosen) > 0
    assert set(chosen["sex"].astype(str)) == {"female"}
    assert chosen["diagnosis"].astype(str).str.startswith("DJ44").all()
    assert chosen["admission_date"].between("2020-01-01", "2021-12-31").all()
    assert set(chosen["postcode"].astype(str)) <= {"1050", "2100", "2300", "2450"}


@pytest.mark.parametrize("ages", [
    [39, 40, 55, 60, 61, np.nan],                       # numbers, one missing
    ["39", "40", "55", "60", "61", "ukendt"],            # text, one not a number
    pd.array([39, 40, 55, 60, 61, None], dtype="Int64"),  # nullable integers
])
def test_an_age_criterion_keeps_the_bounds_and_never_a_missing_age(ages):
    frame = pd.DataFrame({"age": ages})
    mask = pipeline.cohort_mask(frame, columns=[{"name": "age", "concept": "age"}],
                                cohort={"age": [40, 60]}, reference_date=APPROVED.date())
    assert mask.tolist() == [False, True, True, True, False, False]


def test_columns_are_minimised_to_exactly_the_permitted_ones():
    frame = synthetic.admissions(100, 30, seed=4)
    _, out = run(frame, plan_for(1, permitted=("sex", "diagnosis")))
    assert list(out.columns) == ["sex", "diagnosis"]


def test_a_permitted_free_text_column_is_redacted():
    frame = synthetic.admissions(60, 10, seed=4)
    frame["note"] = ("Se " + frame["cpr"].astype(str)).astype("category")
    _, out = run(frame, plan_for(1, permitted=("sex", "note")))
    assert set(out["note"].astype(str)) == {"Se [CPR]"}


def test_a_cpr_in_an_attribute_column_fails_the_extract():
    frame = synthetic.admissions(60, 10, seed=4)
    frame["length_of_stay"] = frame["cpr"].astype(str)
    with pytest.raises(leaks.LeakFound):
        run(frame, plan_for(1, permitted=("sex", "length_of_stay")))


def test_date_shift_is_stable_per_citizen_within_the_permit():
    columns = [dict(c) for c in synthetic.ADMISSION_COLUMNS]
    next(c for c in columns if c["name"] == "admission_date")["generalise"] = {
        "kind": "date", "to": "shift", "max_days": 20}
    frame = synthetic.admissions(300, 50, seed=6)
    plan = plan_for(1, columns=columns, permitted=("cpr", "admission_date"), suppression=1.0)
    decision, out = run(frame, plan)
    if decision.anonymisation.node == (0,):
        names = pseudonymise(frame["_subject_key"], key=plan.pseudonym_key).astype(str)
        original = frame["admission_date"].groupby(names.to_numpy()).agg(sorted)
        shifted = pd.to_datetime(out["admission_date"].astype(str)).groupby(
            out["pseudonym"].astype(str).to_numpy()).agg(sorted)
        for person, dates in shifted.items():
            delta = {(s - o).days for s, o in zip(dates, original[person], strict=True)}
            assert len(delta) == 1 and abs(delta.pop()) <= 20


def test_chunking_does_not_change_the_output():
    frame = synthetic.admissions(700, 150, seed=8)
    plan = plan_for(3)
    _, small = run(frame, plan, chunk=50)
    _, large = run(frame, plan, chunk=10_000)
    pd.testing.assert_frame_equal(small.astype(str), large.astype(str))


def test_dask_on_a_local_cluster_gives_the_same_output_as_pandas():
    distributed = pytest.importorskip("distributed")
    frame = synthetic.admissions(900, 200, seed=9)
    plan = plan_for(3)
    decision, expected = run(frame, plan, chunk=225)
    chunks = lambda: (frame.iloc[i:i + 225] for i in range(0, len(frame), 225))  # noqa: E731
    seen: list[tuple[int, int]] = []
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        released = pipeline.run_dask(chunks, plan, client=client, in_flight=2,
                                     on_chunk=lambda p, n: seen.append((p, n)))
        got = [chunk.frame for chunk in released.chunks]  # lazily, one chunk at a time
    assert released.decision.anonymisation.node == decision.anonymisation.node
    assert (released.decision.anonymisation.rows_suppressed
            == decision.anonymisation.rows_suppressed)
    assert len(got) == 1 and seen == [(p, n) for p in (1, 2) for n in range(4)]
    pd.testing.assert_frame_equal(pipeline.concat_released(
        pipeline.ReleasedChunk(frame=f, subject_keys=np.array([])) for f in got), expected)


def test_what_the_company_received_under_another_permit_joins_the_record():
    frame = synthetic.admissions(1_500, 600, seed=12).drop_duplicates("_subject_key")
    first = plan_for(5, permitted=("cpr", "birth_date", "sex"), key=b"1" * 32)
    second = plan_for(5, permitted=("cpr", "postcode"), key=b"2" * 32)
    first_decision, first_out = run(frame, first)
    alone, _ = run(frame, second)
    companion = pipeline.Companion(frames=lambda: [frame], plan=first,
                                   fixed=first_decision.levels)
    released = pipeline.run_pandas(lambda: [frame], second, companions=[companion])
    joined = released.decision
    second_out = pipeline.concat_released(released.chunks)
    assert joined.datasets_assessed == 2
    assert (joined.anonymisation.node, joined.anonymisation.rows_suppressed) != (
        alone.anonymisation.node, alone.anonymisation.rows_suppressed)
    # Linked through the platform's knowledge, the two files together still hold every
    # person's whole record in at least k persons.
    who_first = pseudonymise(frame["_subject_key"], key=first.pseudonym_key).astype(str)
    who_second = pseudonymise(frame["_subject_key"], key=second.pseudonym_key).astype(str)
    person = dict(zip(who_second, frame["_subject_key"].astype(str), strict=True))
    first_person = dict(zip(who_first, frame["_subject_key"].astype(str), strict=True))
    a = first_out.assign(person=first_out["pseudonym"].astype(str).map(first_person))
    b = second_out.assign(person=second_out["pseudonym"].astype(str).map(person))
    labels = a["birth_date"].astype("string") + a["sex"].astype("string")
    record_a = labels.groupby(a["person"]).agg(lambda s: "#".join(sorted(s)))
    record_b = b["postcode"].astype("string").groupby(b["person"]).agg(
        lambda s: "#".join(sorted(s)))
    union = (record_a.reindex(record_b.index).fillna("") + "|" + record_b)
    assert union.map(union.value_counts()).min() >= 5


def test_order_buckets_and_rereading_give_the_same_file_as_one_bucket_in_memory():
    frame = synthetic.admissions(800, 200, seed=13)
    plan = plan_for(3)
    chunks = lambda: (frame.iloc[i:i + 150] for i in range(0, len(frame), 150))  # noqa: E731
    one = pipeline.concat_released(pipeline.run_pandas(chunks, plan).chunks)
    released = pipeline.run_pandas(chunks, plan, rows_per_bucket=100,
                                   rows_kept_between_passes=0)
    assert released.decision.order_buckets(100) > 4
    many = pipeline.concat_released(released.chunks)
    pd.testing.assert_frame_equal(one.astype(str), many.astype(str))


def test_rows_leave_in_keyed_order_not_upload_order():
    frame = synthetic.admissions(600, 150, seed=14)
    _, out = run(frame, plan_for(1, permitted=("cpr", "length_of_stay"), suppression=1.0))
    _, again = run(frame, plan_for(1, permitted=("cpr", "length_of_stay"), suppression=1.0))
    _, other_permit = run(frame, plan_for(1, permitted=("cpr", "length_of_stay"),
                                          key=b"o" * 32, suppression=1.0))
    pd.testing.assert_frame_equal(out, again)  # the same permit rebuilds the same file
    # Rows of one person are scattered, not in the upload's runs, and another permit's order
    # is unrelated.
    runs = (out["pseudonym"] != out["pseudonym"].shift()).sum()
    assert runs > 0.9 * len(out)
    assert not np.array_equal(out["length_of_stay"].to_numpy(),
                              other_permit["length_of_stay"].to_numpy())
    assert not np.array_equal(out["length_of_stay"].to_numpy(),
                              frame["length_of_stay"].to_numpy())
