"""Consent evaluation as of a moment: bulk masks agree with folding each citizen's events."""
import hashlib
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marketplace.consent import evaluation
from marketplace.consent.evaluation import (
    build_snapshot,
    empty_events,
    fold_citizen_events,
    included_mask,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PURPOSE = "company_research"
HOLDER, DATASET = 7, 9


def key(n: int) -> str:
    return hashlib.sha256(f"citizen-{n}".encode()).hexdigest()


def events_frame(rows: list[tuple]) -> pd.DataFrame:
    """rows: (key, day offset, decision, scope_type, scope_id, purpose)."""
    return pd.DataFrame(
        [(k, T0 + timedelta(days=day), decision, scope_type, scope_id, purpose)
         for k, day, decision, scope_type, scope_id, purpose in rows],
        columns=list(evaluation.EVENT_COLUMNS))


def snapshot(rows: list[tuple], *, as_of_day: float = 100) -> evaluation.ConsentSnapshot:
    return build_snapshot(events_frame(rows), purpose=PURPOSE, holder_org_id=HOLDER,
                          dataset_id=DATASET, as_of=T0 + timedelta(days=as_of_day))


def test_untouched_citizens_are_included_only_by_opt_out_datasets():
    snap = snapshot([])
    keys = [key(1), key(2)]
    assert included_mask(keys, snap, consent_model="opt_out").tolist() == [True, True]
    assert included_mask(keys, snap, consent_model="opt_in").tolist() == [False, False]


def test_most_specific_choice_wins():
    snap = snapshot([
        (key(1), 0, "permit", "all", None, PURPOSE),
        (key(1), 1, "deny", "holder", HOLDER, PURPOSE),
        (key(2), 0, "deny", "all", None, PURPOSE),
        (key(2), 1, "permit", "dataset", DATASET, PURPOSE),
        (key(3), 0, "deny", "dataset", DATASET, PURPOSE),
        (key(3), 1, "permit", "all", None, PURPOSE),
    ])
    keys = [key(1), key(2), key(3)]
    assert included_mask(keys, snap, consent_model="opt_in").tolist() == [False, True, False]
    assert included_mask(keys, snap, consent_model="opt_out").tolist() == [False, True, False]
    assert [snap.decision_for(k) for k in keys] == ["deny", "permit", "deny"]


def test_choices_for_other_holders_datasets_and_purposes_do_not_count():
    snap = snapshot([
        (key(1), 0, "deny", "holder", HOLDER + 1, PURPOSE),
        (key(2), 0, "deny", "dataset", DATASET + 1, PURPOSE),
        (key(3), 0, "deny", "all", None, "public_research"),
    ])
    keys = [key(1), key(2), key(3)]
    assert included_mask(keys, snap, consent_model="opt_out").all()


def test_clearing_a_specific_choice_falls_back_to_the_broader_one():
    snap = snapshot([
        (key(1), 0, "permit", "all", None, PURPOSE),
        (key(1), 1, "deny", "dataset", DATASET, PURPOSE),
        (key(1), 2, "clear", "dataset", DATASET, PURPOSE),
    ])
    assert snap.decision_for(key(1)) == "permit"
    assert included_mask([key(1)], snap, consent_model="opt_in").tolist() == [True]


def test_opt_out_excludes_everywhere_and_withdrawing_it_restores_choices():
    rows = [
        (key(1), 0, "permit", "all", None, PURPOSE),
        (key(1), 1, "opt_out", "all", None, None),
        (key(2), 0, "permit", "all", None, PURPOSE),
        (key(2), 1, "opt_out", "all", None, None),
        (key(2), 2, "opt_out_withdrawn", "all", None, None),
    ]
    snap = snapshot(rows)
    assert included_mask([key(1), key(2)], snap, consent_model="opt_in").tolist() == [False, True]
    assert included_mask([key(1), key(2)], snap, consent_model="opt_out").tolist() == [False, True]


def test_events_after_the_moment_do_not_count():
    rows = [
        (key(1), 5, "opt_out", "all", None, None),
        (key(2), 5, "permit", "all", None, PURPOSE),
    ]
    before, after = snapshot(rows, as_of_day=4), snapshot(rows, as_of_day=5)
    keys = [key(1), key(2)]
    assert included_mask(keys, before, consent_model="opt_out").tolist() == [True, True]
    assert included_mask(keys, before, consent_model="opt_in").tolist() == [False, False]
    assert included_mask(keys, after, consent_model="opt_out").tolist() == [False, True]
    assert included_mask(keys, after, consent_model="opt_in").tolist() == [False, True]


def test_events_given_out_of_order_are_folded_in_time_order():
    rows = [
        (key(1), 2, "deny", "all", None, PURPOSE),
        (key(1), 1, "permit", "all", None, PURPOSE),
    ]
    assert snapshot(rows).decision_for(key(1)) == "deny"


def test_rows_without_a_well_formed_key_are_never_included():
    snap = snapshot([(key(1), 0, "permit", "all", None, PURPOSE)])
    keys = pd.Series([key(1), None, "not-a-key", key(1).upper()[:63]], dtype="str")
    assert included_mask(keys, snap, consent_model="opt_out").tolist() == [
        True, False, False, False]
    assert included_mask(keys, snap, consent_model="opt_in").tolist() == [
        True, False, False, False]


def test_keys_sharing_a_prefix_are_still_told_apart():
    twin_a = "ab" * 8 + "0" * 48
    twin_b = "ab" * 8 + "1" * 48
    snap = snapshot([
        (twin_a, 0, "deny", "all", None, PURPOSE),
        (twin_b, 0, "permit", "all", None, PURPOSE),
        (twin_b, 1, "opt_out", "all", None, None),
    ])
    assert snap.decision_for(twin_a) == "deny"
    assert snap.decision_for(twin_b) == "permit"
    keys = [twin_a, twin_b, "ab" * 8 + "2" * 48]
    assert included_mask(keys, snap, consent_model="opt_out").tolist() == [False, False, True]


def test_unknown_consent_model_is_rejected():
    with pytest.raises(ValueError):
        included_mask([key(1)], snapshot([]), consent_model="maybe")


def test_empty_event_log_and_empty_dataset():
    snap = build_snapshot(empty_events(), purpose=PURPOSE, holder_org_id=None, dataset_id=None,
                          as_of=T0)
    assert included_mask(pd.Series([], dtype="str"), snap, consent_model="opt_out").size == 0
    assert snap.events_considered == 0


def test_fingerprint_changes_with_the_consent_state():
    quiet = snapshot([])
    changed = snapshot([(key(1), 0, "opt_out", "all", None, None)])
    assert quiet.fingerprint == snapshot([]).fingerprint
    assert quiet.fingerprint != changed.fingerprint


def test_a_snapshot_moved_to_a_later_moment_keeps_what_it_computed():
    """Every access decision asks consent "as of now": the kept snapshot is moved there without
    hashing or folding its keys again."""
    kept = snapshot([(key(1), 0, "permit", "holder", HOLDER, PURPOSE)])
    digest, included = kept.fingerprint, kept.included_if_opt_in
    later = kept.as_of + timedelta(hours=1)
    moved = kept.at(later)
    assert moved.as_of == later and kept.at(kept.as_of) is kept
    # Carried over, not computed again on first use.
    assert vars(moved)["fingerprint"] == digest
    assert vars(moved)["included_if_opt_in"] is included
    assert included_mask([key(1), key(2)], moved, consent_model="opt_in").tolist() == [
        True, False]


def test_categorical_and_text_columns_give_the_same_snapshot():
    rows = [(key(1), 0, "deny", "holder", HOLDER, PURPOSE), (key(2), 0, "opt_out", "all",
                                                                   None, None)]
    frame = events_frame(rows)
    categorical = frame.assign(
        decision=pd.Categorical(frame["decision"], categories=evaluation.DECISIONS),
        scope_type=pd.Categorical(frame["scope_type"], categories=evaluation.SCOPE_TYPES),
        purpose=pd.Categorical(frame["purpose"]))
    a = build_snapshot(frame, purpose=PURPOSE, holder_org_id=HOLDER, dataset_id=None, as_of=T0)
    b = build_snapshot(categorical, purpose=PURPOSE, holder_org_id=HOLDER, dataset_id=None,
                       as_of=T0)
    assert a.fingerprint == b.fingerprint


def reference_included(rows: list[tuple], subject: str, as_of: datetime, model: str) -> bool:
    """Fold one subject's events by hand: the specification of included_mask."""
    opted_out, latest = False, {}
    ordered = sorted(enumerate(rows), key=lambda item: (item[1][1], item[0]))
    for _, (k, day, decision, scope_type, scope_id, purpose) in ordered:
        if k != subject or T0 + timedelta(days=day) > as_of:
            continue
        if decision in ("opt_out", "opt_out_withdrawn"):
            opted_out = decision == "opt_out"
        elif purpose == PURPOSE:
            level = {"all": 0, "holder": 1 if scope_id == HOLDER else None,
                     "dataset": 2 if scope_id == DATASET else None}[scope_type]
            if level is not None:
                latest[level] = decision
    standing = [latest[lvl] for lvl in (2, 1, 0) if latest.get(lvl) not in (None, "clear")]
    decision = standing[0] if standing else None
    if opted_out:
        return False
    return decision == "permit" if model == "opt_in" else decision != "deny"


event_rows = st.lists(st.tuples(
    st.integers(0, 5).map(key), st.integers(0, 10),
    st.sampled_from(evaluation.DECISIONS),
    st.sampled_from(evaluation.SCOPE_TYPES), st.sampled_from([HOLDER, DATASET, 3]),
    st.sampled_from([PURPOSE, "education"])), max_size=40)


@settings(max_examples=150, deadline=None)
@given(rows=event_rows, as_of_day=st.integers(0, 11), model=st.sampled_from(["opt_in",
                                                                              "opt_out"]))
def test_bulk_mask_matches_folding_each_citizen(rows, as_of_day, model):
    rows = [(k, day, decision, scope_type if decision not in evaluation.OPT_OUT_DECISIONS
             else "all", scope_id if scope_type != "all" else None,
             purpose if decision not in evaluation.OPT_OUT_DECISIONS else None)
            for k, day, decision, scope_type, scope_id, purpose in rows]
    as_of = T0 + timedelta(days=as_of_day)
    snap = build_snapshot(events_frame(rows), purpose=PURPOSE, holder_org_id=HOLDER,
                          dataset_id=DATASET, as_of=as_of)
    subjects = [key(n) for n in range(7)]
    expected = [reference_included(rows, s, as_of, model) for s in subjects]
    assert included_mask(subjects, snap, consent_model=model).tolist() == expected


class Event:
    def __init__(self, id, day, decision, scope_type="all", scope_id=None, purpose=PURPOSE):
        self.id, self.at, self.decision = id, T0 + timedelta(days=day), decision
        self.scope_type, self.scope_id, self.purpose = scope_type, scope_id, purpose
        self.actor_citizen_id, self.notice_version = 1, "2026-11-01"


def test_fold_citizen_events_gives_the_standing_choices():
    state = fold_citizen_events([
        Event(1, 0, "permit"),
        Event(2, 1, "deny", "holder", HOLDER),
        Event(3, 2, "deny", "dataset", DATASET),
        Event(4, 3, "clear", "dataset", DATASET),
        Event(5, 4, "opt_out", purpose=None),
    ])
    assert state.opt_out and state.opt_out_since == T0 + timedelta(days=4)
    assert [(c.scope_type, c.decision) for c in state.choices] == [
        ("all", "permit"), ("holder", "deny")]
    assert state.choice(purpose=PURPOSE).event_id == 1
    assert state.choice(purpose=PURPOSE, scope_type="dataset", scope_id=DATASET) is None
    withdrawn = fold_citizen_events([Event(1, 0, "opt_out", purpose=None),
                                     Event(2, 1, "opt_out_withdrawn", purpose=None)])
    assert not withdrawn.opt_out and withdrawn.opt_out_since is None


def test_large_bulk_evaluation_is_exact():
    rng = np.random.default_rng(5)
    subjects = [key(n) for n in range(2000)]
    rows = [(subjects[i], int(rng.integers(0, 10)), str(rng.choice(["permit", "deny",
                                                                     "opt_out"])),
             "all", None, PURPOSE) for i in rng.integers(0, 2000, 3000)]
    rows = [(k, d, dec, s, i, None if dec == "opt_out" else p) for k, d, dec, s, i, p in rows]
    snap = snapshot(rows)
    mask = included_mask(pd.Series(subjects, dtype="str"), snap, consent_model="opt_out")
    as_of = T0 + timedelta(days=100)
    assert mask.tolist() == [reference_included(rows, s, as_of, "opt_out") for s in subjects]
