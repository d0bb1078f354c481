"""Business rules of the statistics domain: feasibility counts and statistics requests.

Counts use the delivery pipeline's cohort filter and the consent domain's evaluation, so a
feasibility count is the number of persons an extract would hold. A statistics request is
decided by the same policy engine as an application, computed at once and protected before
anything is stored or shown.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace import audit
from marketplace.access import decisions, sla
from marketplace.catalog import services as catalog_services
from marketplace.catalog.models import Dataset
from marketplace.consent import evaluation as consent_evaluation
from marketplace.consent import services as consent_services
from marketplace.delivery import generalise, pipeline
from marketplace.delivery import output as delivery_output
from marketplace.delivery.pseudonymise import person_numbers
from marketplace.errors import Forbidden, Invalid, NotFound
from marketplace.identity.models import Organisation
from marketplace.identity.principal import Principal
from marketplace.languages import N_
from marketplace.security import Keyring
from marketplace.statistics import dp, sdc, store, tables
from marketplace.statistics.models import (
    DEFAULT_EPSILON_BUDGET,
    DEFAULT_ROUNDING_BASE,
    StatisticsPolicy,
    StatisticsRequest,
)
from marketplace.statistics.problems import conflict, invalid, problem
from marketplace.statistics.rules import DisclosureRules, disclosure_rules
from marketplace.statistics.schemas import (
    DEFAULT_EPSILON,
    FeasibilityIn,
    MeasureIn,
    StatisticsRequestIn,
    StatisticsReviewIn,
)

REQUEST_SCOPES = ("access:request", "statistics:request")
# The holder's staff who decide applications decide statistics requests sent to review too.
REVIEW_SCOPE = "access:review"
REVIEW_ACTIONS = {"approve": "approved", "reject": "rejected"}
# A statistics request is small next to an application: the holder should decide within a
# week, as output checkers do (Findata's Portti: 5 working days).
REVIEW_WORKING_DAYS = 5
DEFAULT_PURPOSE = {"company": "company_research"}
FALLBACK_PURPOSE = "public_research"
TOTAL_LABEL = "Total"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# --- who may ask -----------------------------------------------------------------------------

def _require_requester(actor: Principal, *, scopes: Sequence[str]) -> int:
    """The organisation asking; raise Forbidden for anyone outside an organisation or
    without one of `scopes` (a signed-in company member holds them through the role)."""
    if actor.org_id is None:
        raise Forbidden("kun organisationer kan bede om statistik")
    if not any(actor.has_scope(scope) for scope in scopes):
        raise Forbidden("det kræver et af disse scopes: {scopes}", scopes=", ".join(scopes))
    return actor.org_id


# --- data -----------------------------------------------------------------------------------

def _published(session: Session, dataset_id: int, field: str) -> Dataset:
    dataset = catalog_services.get_dataset(session, dataset_id=dataset_id)
    if dataset is None or dataset.status != "published":
        raise invalid(field, "intet udgivet datasæt {dataset}", dataset=dataset_id)
    return dataset


def _prepared(session: Session, dataset: Dataset, *, keyring: Keyring, data_dir: Path
              ) -> tuple[store.PreparedVersion, int]:
    version = catalog_services.current_version(session, dataset=dataset)
    if version is None or not version.sha256:
        raise conflict("datasæt {dataset} har ingen gyldig dataversion", dataset=dataset.id)
    prepared = store.prepared_version(version, columns=dataset.columns,
                                      has_subject=bool(dataset.subject_column),
                                      keyring=keyring, data_dir=data_dir)
    return prepared, version.id


def _consent_mask(session: Session, prepared: store.PreparedVersion, dataset: Dataset, *,
                  purpose: str, now: datetime) -> np.ndarray:
    """Rows whose person is included for `purpose` now (the evaluation delivery uses)."""
    if prepared.person is None or prepared.subject_keys is None:
        return np.ones(prepared.rows, dtype=bool)
    snapshot = consent_services.consent_snapshot(
        session, purpose=purpose, holder_org_id=dataset.publisher_org_id,
        dataset_id=dataset.id, as_of=now)
    keys = prepared.subject_keys

    def per_person() -> np.ndarray:
        return np.asarray(consent_evaluation.included_mask(
            keys, snapshot, consent_model=dataset.consent_model), dtype=bool)

    included = prepared.remember(
        ("consent", purpose, dataset.consent_model, snapshot.fingerprint), per_person)
    person = prepared.person
    return np.where(person >= 0, np.asarray(included)[np.maximum(person, 0)], False)


def _cohort_mask(prepared: store.PreparedVersion, dataset: Dataset, cohort: dict[str, Any],
                 now: datetime) -> np.ndarray:
    """Rows in the cohort: delivery's cohort filter, with the age and period criteria evaluated
    once per distinct date (the same rules, without converting every row)."""
    rest = {key: value for key, value in cohort.items() if key not in ("age", "period")}
    mask = pipeline.cohort_mask(prepared.frame, columns=dataset.columns, cohort=rest,
                                reference_date=now.date())
    concepts = tables.concept_columns(dataset.columns)
    if cohort.get("age"):
        low, high = cohort["age"]
        # As in delivery: a criterion without a matching column is not applied.
        column = concepts.get("age") or concepts.get("birth_date")
        if column is not None:
            key = ("age", low, high, now.date())
            if "age" in concepts:
                mask &= _per_distinct(prepared, column, key, lambda u: pd.to_numeric(
                    pd.Series(u), errors="coerce").between(low, high).to_numpy())
            else:
                mask &= _per_distinct(prepared, column, key, lambda u: generalise.age_years(
                    pd.Series(u), now.date()).between(low, high).to_numpy())
    period = cohort.get("period") or {}
    column = concepts.get("event_date")
    if (period.get("start") or period.get("end")) and column:
        def within(uniques: pd.Index) -> np.ndarray:
            moments = pd.to_datetime(pd.Series(uniques), errors="coerce")
            inside = np.ones(len(uniques), dtype=bool)
            if period.get("start"):
                inside &= (moments >= pd.Timestamp(period["start"])).to_numpy()
            if period.get("end"):
                inside &= (moments <= pd.Timestamp(period["end"])).to_numpy()
            return inside

        mask &= _per_distinct(prepared, column,
                              ("period", period.get("start"), period.get("end")), within)
    return mask


def _per_distinct(prepared: store.PreparedVersion, column: str, key: tuple, test: Any
                  ) -> np.ndarray:
    """Apply `test` to the column's distinct values (factorised once per version; the verdict
    is kept under `key`, so a cohort edited back and forth is not evaluated again)."""
    distinct: Any = prepared.remember(
        ("distinct", column), lambda: tables.distinct_values(prepared.frame[column]))
    codes: np.ndarray = distinct[0]
    uniques: pd.Index = distinct[1]
    found: Any = prepared.remember(("verdict", column, *key), lambda: test(uniques))
    verdict = np.asarray(found).astype(bool)
    if not len(verdict):
        return np.zeros(len(codes), dtype=bool)
    return np.where(codes >= 0, verdict[np.maximum(codes, 0)], False)


def _persons(prepared: store.PreparedVersion, mask: np.ndarray) -> np.ndarray:
    """The persons (indexes into the version's subject keys) with a row in `mask`."""
    if prepared.person is None:
        return np.flatnonzero(mask)
    if prepared.subject_keys is None or not len(prepared.subject_keys):
        return np.zeros(0, dtype=np.int64)
    present = np.bincount(prepared.person[mask & (prepared.person >= 0)],
                          minlength=len(prepared.subject_keys))
    return np.flatnonzero(present)


# --- feasibility -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Feasibility:
    persons: int | None
    rounded_to: int
    suppressed: bool
    threshold: int


def _default_purpose(actor: Principal) -> str:
    return DEFAULT_PURPOSE.get(actor.org_kind or "", FALLBACK_PURPOSE)


def feasibility(session: Session, *, actor: Principal, query: FeasibilityIn, keyring: Keyring,
                data_dir: Path, now: datetime) -> Feasibility:
    """How many persons an extract of these datasets would hold after consent and cohort,
    rounded to the holders' base and withheld under their threshold.

    Raises Forbidden, Invalid (unknown dataset or purpose) and Conflict (no data version).
    """
    _require_requester(actor, scopes=REQUEST_SCOPES)
    purpose = query.purpose or _default_purpose(actor)
    if consent_services.get_purpose(purpose) is None:
        raise invalid("purpose", "ukendt formål {purpose}; se /api/v1/purposes",
                      purpose=repr(purpose[:60]))
    datasets = [_published(session, dataset_id, f"datasets[{i}]")
                for i, dataset_id in enumerate(dict.fromkeys(query.datasets))]
    cohort = query.cohort.criteria()
    threshold, rounding = 1, 1
    people: list[np.ndarray] = []
    for dataset in datasets:
        rules = disclosure_rules(session, dataset=dataset)
        threshold, rounding = max(threshold, rules.threshold), max(rounding, rules.rounding)
        prepared, _ = _prepared(session, dataset, keyring=keyring, data_dir=data_dir)
        mask = _cohort_mask(prepared, dataset, cohort, now)
        mask &= _consent_mask(session, prepared, dataset, purpose=purpose, now=now)
        chosen = _persons(prepared, mask)
        if len(datasets) == 1:
            people.append(np.arange(len(chosen), dtype=np.uint64))
        elif prepared.subject_keys is not None:
            # The same citizen in two datasets is one person: count blind indexes.
            people.append(person_numbers(pd.Index(prepared.subject_keys.to_numpy()[chosen])))
        else:
            people.append(np.arange(len(chosen), dtype=np.uint64) + (len(people) << 48))
    if len(people) == 1:
        persons = len(people[0])
    else:
        persons = int(pd.unique(np.concatenate(people)).size) if people else 0
    if persons < threshold:
        return Feasibility(None, rounding, True, threshold)
    return Feasibility(max(sdc.round_to(persons, rounding), rounding), rounding, False,
                       threshold)


# --- statistics requests: finding --------------------------------------------------------------

def get_statistics_request(session: Session, *, request_id: int) -> StatisticsRequest | None:
    return session.get(StatisticsRequest, request_id)


def require_visible_request(session: Session, *, request_id: int, actor: Principal
                            ) -> StatisticsRequest:
    """The request, for its own organisation and the operator; raise NotFound for anyone
    else, so other companies cannot even learn that it exists."""
    found = get_statistics_request(session, request_id=request_id)
    if found is None or not (actor.is_operator or actor.belongs_to(found.company_org_id)):
        raise NotFound("statistikforespørgsel {id} findes ikke", id=request_id)
    return found


def list_statistics_requests(session: Session, *, actor: Principal, offset: int = 0,
                             limit: int = 50) -> tuple[list[StatisticsRequest], int]:
    """The actor's organisation's requests, newest first, and how many there are."""
    if actor.org_id is None and not actor.is_operator:
        raise Forbidden("kun organisationer beder om statistik")
    query = sa.select(StatisticsRequest)
    if not actor.is_operator:
        query = query.where(StatisticsRequest.company_org_id == actor.org_id)
    total = session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
    items = session.scalars(query.order_by(StatisticsRequest.id.desc()).offset(offset)
                            .limit(limit))
    return list(items), int(total)


# --- statistics requests: checking the question ----------------------------------------------

@dataclass(frozen=True)
class Question:
    groupings: tuple[tables.Grouping, ...]
    measures: tuple[tables.Measure, ...]
    columns_read: tuple[str, ...]


def _question(dataset: Dataset, *, group_by: Sequence[str], asked: Sequence[MeasureIn],
              method: str) -> Question:
    """Resolve group-bys and measures against the dataset; raise Invalid naming each problem."""
    errors: list[dict[str, str]] = []
    by_name = {c["name"]: c for c in dataset.columns}
    groupings = []
    for index, name in enumerate(group_by):
        grouping = tables.grouping_for(name, dataset.columns)
        if grouping is None:
            errors.append(problem(f"group_by[{index}]", N_("kan ikke grupperes efter {name}: "
                                  "ingen sådan kolonne eller afledt gruppe i datasættet"),
                                  name=repr(name)))
        else:
            groupings.append(grouping)
    measures = []
    for index, measure in enumerate(asked):
        if measure.kind == "count_persons" and not dataset.subject_column:
            errors.append(problem(f"measures[{index}].kind",
                                  N_("datasættet har ingen personkolonne at tælle personer i")))
            continue
        if measure.column is not None:
            column = by_name.get(measure.column)
            if column is None or column.get("role") == "direct_identifier":
                errors.append(problem(f"measures[{index}].column", N_("ukendt kolonne {column}"),
                                      column=repr(measure.column)))
                continue
            if column.get("type") not in tables.NUMERIC_TYPES:
                errors.append(problem(f"measures[{index}].column",
                                      N_("kolonnen {column} er ikke numerisk"),
                                      column=repr(measure.column)))
                continue
        if method == "dp" and measure.kind not in dp.DP_MEASURES:
            errors.append(problem(f"measures[{index}].kind",
                                  N_("differential privacy giver kun optællinger")))
            continue
        measures.append(tables.Measure(measure.kind, measure.column))
    if errors:
        raise Invalid("ugyldig forespørgsel: {fields}",
                      fields=", ".join(e["field"] for e in errors), errors=errors)
    read = dict.fromkeys([g.column for g in groupings]
                         + [m.column for m in measures if m.column])
    return Question(tuple(groupings), tuple(measures), tuple(read))


def _domains(prepared: store.PreparedVersion, groupings: Sequence[tables.Grouping],
             now: datetime) -> list[list[str]]:
    """Every label each dimension takes on the whole version: the cohort does not show."""
    reference = now.date()
    return [prepared.remember(  # type: ignore[misc]
        ("domain", g.name, g.column, reference),
        lambda g=g: tables.label_domain(prepared.frame[g.column], g, reference=reference))
        for g in groupings]


# --- statistics requests: deciding -----------------------------------------------------------

def _decide(session: Session, *, policies: decisions.PolicyBundle, company: Organisation,
            dataset: Dataset, purpose_code: str, diseases: Sequence[str], question: Question,
            cohort_size: int, now: datetime) -> decisions.Decision:
    purpose = consent_services.get_purpose(purpose_code)
    requester = decisions.RequesterFacts(slug=company.slug, kind=company.kind,
                                         country=company.country, accredited=company.accredited)
    facts = decisions.ApplicationFacts(purpose=decisions.purpose_facts(purpose_code, purpose),
                                       diseases=tuple(diseases), duration_days=1)
    dataset_facts = decisions.dataset_facts(
        dataset_id=dataset.id, status=dataset.status, access_rights=dataset.access_rights,
        data_use=dataset.data_use, k_min=dataset.k_min, columns=dataset.columns,
        subject_column=dataset.subject_column,
        purposes=(dataset.data_use or {}).get("purposes") or (), as_of=now.date())
    request = decisions.DatasetRequest(dataset_facts, question.columns_read, cohort_size)
    return decisions.decide(policies, requester=requester, application=facts,
                            requests=[request])


# --- statistics requests: differencing ---------------------------------------------------------

def _check_differencing(session: Session, *, company_org_id: int, dataset: Dataset,
                        prepared: store.PreparedVersion, selected: np.ndarray,
                        consent: np.ndarray, question: Question, cohort: dict[str, Any],
                        threshold: int, now: datetime) -> None:
    """Refuse a table that, next to a table this company already received, would reveal fewer
    persons than the threshold: the persons in one cohort and not the other, counted in every
    margin both tables released. Raise Invalid naming the earlier request."""
    earlier = session.scalars(sa.select(StatisticsRequest).where(
        StatisticsRequest.company_org_id == company_org_id,
        StatisticsRequest.dataset_id == dataset.id,
        StatisticsRequest.status == "released",
        StatisticsRequest.method == "sdc").order_by(StatisticsRequest.id))
    names = {g.name for g in question.groupings}
    for previous in earlier:
        if previous.cohort == cohort:
            continue
        theirs = _cohort_mask(prepared, dataset, previous.cohort, now) & consent
        differing = selected ^ theirs
        if not differing.any():
            continue
        shared = [g for g in question.groupings if g.name in set(previous.group_by) & names]
        person = prepared.person[differing] if prepared.person is not None else None
        cube = tables.aggregate(prepared.frame.loc[differing], person=person, groupings=shared,
                                measures=(), reference=now.date())
        small = cube[tables.PERSONS].between(1, threshold - 1)
        if small.any():
            raise invalid(
                "cohort", "tabellen afviger fra jeres tidligere statistikforespørgsel "
                "{previous} med færre end {threshold} personer; sammen ville de afsløre en "
                "undertrykt celle", previous=previous.id, threshold=threshold)


# --- statistics requests: computing --------------------------------------------------------

def _value(kind: str, value: Any, rounding: int) -> Any:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if kind in ("count_persons", "count_rows"):
        return sdc.round_to(float(value), rounding)
    return round(float(value), 1)


def _labels(prepared: store.PreparedVersion, groupings: Sequence[tables.Grouping],
            selected: np.ndarray, now: datetime) -> list[pd.Categorical]:
    """The selected rows' group labels, from labels computed once per version and day."""
    reference = now.date()
    out = []
    for g in groupings:
        every = prepared.remember(
            ("labels", g.name, g.column, reference),
            lambda g=g: tables.group_labels(prepared.frame[g.column], g, reference=reference))
        out.append(every[selected])  # type: ignore[index]
    return out


def _sdc_result(prepared: store.PreparedVersion, selected: np.ndarray, question: Question,
                rules: DisclosureRules, now: datetime) -> dict[str, Any]:
    person = prepared.person[selected] if prepared.person is not None else None
    measured = [m.column for m in question.measures if m.column]
    cube = tables.aggregate(prepared.frame.loc[selected, list(dict.fromkeys(measured))],
                            person=person, groupings=question.groupings,
                            measures=question.measures, reference=now.date(),
                            labels=_labels(prepared, question.groupings, selected, now))
    names = [g.name for g in question.groupings]
    protection = sdc.protect(cube, dimensions=names, threshold=rules.threshold)
    rows = []
    for index, record in enumerate(cube.to_dict("records")):
        hidden = bool(protection.suppressed[index])
        values = []
        for measure in question.measures:
            raw = {"count_persons": record[tables.PERSONS],
                   "count_rows": record[tables.ROWS]}.get(measure.kind,
                                                           record.get(measure.name))
            values.append(None if hidden else _value(measure.kind, raw, rules.rounding))
        rows.append([record[name] for name in names] + values)
    return {"columns": names + [m.name for m in question.measures], "rows": rows,
            "suppressed_cells": int(protection.suppressed.sum()),
            "rules": {"threshold": rules.threshold, "rounding": rules.rounding,
                      "secondary_suppression": True}}


def _dp_result(prepared: store.PreparedVersion, selected: np.ndarray, question: Question,
               rules: DisclosureRules, epsilon: float, domains: list[list[str]],
               keyring: Keyring, now: datetime) -> dict[str, Any]:
    names = [g.name for g in question.groupings]
    frame = prepared.frame.loc[selected]
    cells = pd.DataFrame({
        name: np.asarray(tables.group_labels(frame[g.column], g, reference=now.date()))
        for name, g in zip(names, question.groupings, strict=True)})
    person = (prepared.person[selected].astype(np.int64) if prepared.person is not None
              else np.arange(int(selected.sum()), dtype=np.int64))
    cells["person"] = person
    # A keyed random order decides which records of a person beyond the bound are left out.
    salt = int.from_bytes(keyring.derive("statistics:dp-order")[:8], "big")
    order = (np.arange(len(cells), dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
             ^ np.uint64(salt))
    counts = dp.bounded_cells(cells, dimensions=names, order=order)
    kinds = [m.kind for m in question.measures]
    cube = dp.noisy_cube(counts, dimensions=names, domains=domains, measures=kinds,
                         epsilon=epsilon)
    rows, suppressed = [], 0
    for record in cube.to_dict("records"):
        values = []
        for measure in question.measures:
            raw = record[tables.PERSONS if measure.kind == "count_persons" else tables.ROWS]
            values.append(None if raw < rules.threshold else
                          sdc.round_to(float(raw), rules.rounding))
        suppressed += any(v is None for v in values)
        rows.append([record[name] for name in names] + values)
    return {"columns": names + [m.name for m in question.measures], "rows": rows,
            "suppressed_cells": suppressed,
            "rules": {"threshold": rules.threshold, "rounding": rules.rounding,
                      "secondary_suppression": False, "epsilon": epsilon,
                      "noise": "discrete Laplace",
                      "noise_scale": dp.laplace_scale(kinds, epsilon),
                      "contribution_bound": dp.CONTRIBUTION_BOUND}}


def _spend_budget(session: Session, *, dataset: Dataset, epsilon: float) -> None:
    """Take `epsilon` from the dataset's privacy budget; raise Conflict when it would run out."""
    query = sa.select(StatisticsPolicy).where(StatisticsPolicy.dataset_id == dataset.id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    policy = session.scalar(query)
    if policy is None:
        policy = StatisticsPolicy(dataset_id=dataset.id, threshold=None,
                                  rounding_base=DEFAULT_ROUNDING_BASE,
                                  epsilon_budget=DEFAULT_EPSILON_BUDGET, epsilon_spent=0.0)
        session.add(policy)
    left = policy.epsilon_budget - policy.epsilon_spent
    if epsilon > left + 1e-9:
        raise conflict("datasættets privatlivsbudget er opbrugt: {left} tilbage, "
                       "forespørgslen bruger {epsilon}", left=f"{max(left, 0):.2f}",
                       epsilon=f"{epsilon:.2f}")
    policy.epsilon_spent = policy.epsilon_spent + epsilon
    session.flush()


# --- statistics requests: the answer -------------------------------------------------------

def result_csv(result: dict[str, Any]) -> bytes:
    """The table as CSV: a margin's group is "Total", a suppressed value is empty. Text that
    a spreadsheet would run as a formula is quoted with a leading apostrophe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(result["columns"])
    for row in result["rows"]:
        cells = []
        for value in row:
            if isinstance(value, str):
                cells.append("'" + value if value.startswith(_FORMULA_START) else value)
            elif value is None:
                cells.append("")
            else:
                cells.append(value)
        writer.writerow(cells)
    return buffer.getvalue().encode("utf-8")


def _csv_rows(result: dict[str, Any], groups: int) -> dict[str, Any]:
    """The result with margin labels written out, as the CSV shows them."""
    rows = [[TOTAL_LABEL if i < groups and value is None else value
             for i, value in enumerate(row)] for row in result["rows"]]
    return {**result, "rows": rows}


def csv_bytes(request: StatisticsRequest) -> bytes:
    """The released table of a request as CSV bytes (what the manifest's sha256 covers)."""
    result = request.result or {}
    return result_csv(_csv_rows(result, len(request.group_by)))


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def submit_statistics_request(session: Session, *, actor: Principal, body: StatisticsRequestIn,
                              policies: decisions.PolicyBundle, keyring: Keyring,
                              data_dir: Path, now: datetime) -> StatisticsRequest:
    """Decide a statistics request, compute and protect its table, and store both.

    A denied request is stored with its reasons and no table; one a rule sends to review waits
    for the data holder (`review_statistics_request`). Raises Forbidden (no scope), Invalid
    (unknown dataset, purpose, column, measure or group; too many cells; more privacy loss than
    the holder allows; a table that would difference out a suppressed cell) and Conflict (no
    data version, privacy budget exhausted); then nothing is stored.
    """
    company_org_id = _require_requester(actor, scopes=("statistics:request",))
    company = session.get(Organisation, company_org_id)
    if company is None:
        raise Forbidden("ukendt organisation")
    if consent_services.get_purpose(body.purpose) is None:
        raise invalid("purpose", "ukendt formål {purpose}; se /api/v1/purposes",
                      purpose=repr(body.purpose[:60]))
    dataset = _published(session, body.dataset, "dataset")
    question = _question(dataset, group_by=body.group_by, asked=body.measures,
                         method=body.method)
    rules = disclosure_rules(session, dataset=dataset)
    epsilon = _privacy_loss(body, rules)
    prepared, version_id = _prepared(session, dataset, keyring=keyring, data_dir=data_dir)
    domains = _checked_domains(prepared, question, now)
    cohort = body.cohort.criteria()
    consent = _consent_mask(session, prepared, dataset, purpose=body.purpose, now=now)
    selected = _cohort_mask(prepared, dataset, cohort, now) & consent
    cohort_size = int(_persons(prepared, selected).size)
    decision = _decide(session, policies=policies, company=company, dataset=dataset,
                       purpose_code=body.purpose, diseases=body.diseases, question=question,
                       cohort_size=cohort_size, now=now)
    request = StatisticsRequest(
        company_org_id=company_org_id, dataset_id=dataset.id, data_version_id=version_id,
        requested_by=audit.actor_label(actor), title=body.title, purpose=body.purpose,
        description=body.description,
        measures=[{"kind": m.kind, **({"column": m.column} if m.column else {})}
                  for m in question.measures],
        group_by=[g.name for g in question.groupings], cohort=cohort, method=body.method,
        epsilon=epsilon, status="denied", decision=decision.to_json(), created_at=now)
    result = None
    if decision.outcome == "permit":
        result = _protected_table(session, request=request, dataset=dataset, prepared=prepared,
                                  selected=selected, consent=consent, question=question,
                                  rules=rules, domains=domains, keyring=keyring, now=now)
    elif decision.outcome == "review":
        request.status = "review"
    session.add(request)
    session.flush()
    audit.record_audit(
        session, actor=actor, action="statistics_request.decided",
        subject_type="statistics_request", subject_id=str(request.id),
        details={"dataset_id": dataset.id, "purpose": body.purpose, "method": body.method,
                 "diseases": list(body.diseases), "outcome": decision.outcome,
                 "rules": sorted(decision.rule_ids),
                 "policy_version": decision.policy_version})
    if result is not None:
        _release(session, actor=actor, request=request, result=result, prepared=prepared,
                 keyring=keyring, now=now)
    return request


def _privacy_loss(body: StatisticsRequestIn, rules: DisclosureRules) -> float | None:
    """The privacy loss a dp request spends: as asked, or the usual amount within the holder's
    limit; raise Invalid above the limit."""
    if body.method != "dp":
        return None
    if body.epsilon is None:
        return min(DEFAULT_EPSILON, rules.epsilon_per_request)
    if body.epsilon > rules.epsilon_per_request + 1e-9:
        raise invalid("epsilon", "dataholderen tillader højst epsilon {limit} pr. forespørgsel",
                      limit=f"{rules.epsilon_per_request:g}")
    return float(body.epsilon)


def _checked_domains(prepared: store.PreparedVersion, question: Question, now: datetime
                     ) -> list[list[str]]:
    domains = _domains(prepared, question.groupings, now)
    cells = tables.cell_count(domains)
    if cells > tables.MAX_CELLS:
        raise invalid("group_by", "grupperingen giver {cells} celler; højst {limit} er "
                      "tilladt", cells=cells, limit=tables.MAX_CELLS)
    return domains


def _protected_table(session: Session, *, request: StatisticsRequest, dataset: Dataset,
                     prepared: store.PreparedVersion, selected: np.ndarray, consent: np.ndarray,
                     question: Question, rules: DisclosureRules, domains: list[list[str]],
                     keyring: Keyring, now: datetime) -> dict[str, Any]:
    """The table as it may leave: noisy within the privacy budget, or checked against the
    company's earlier tables for differencing and suppressed. Raises Invalid, Conflict."""
    if request.method == "dp":
        epsilon = float(request.epsilon or 0)
        _spend_budget(session, dataset=dataset, epsilon=epsilon)
        return _dp_result(prepared, selected, question, rules, epsilon, domains, keyring, now)
    _check_differencing(session, company_org_id=request.company_org_id, dataset=dataset,
                        prepared=prepared, selected=selected, consent=consent,
                        question=question, cohort=request.cohort, threshold=rules.threshold,
                        now=now)
    return _sdc_result(prepared, selected, question, rules, now)


def _release(session: Session, *, actor: Principal, request: StatisticsRequest,
             result: dict[str, Any], prepared: store.PreparedVersion, keyring: Keyring,
             now: datetime) -> None:
    """Hand the table to the company: stored with its signed manifest, on the audit chain and,
    through its status, in the public register."""
    request.status, request.result, request.released_at = "released", result, now
    body_csv = csv_bytes(request)
    request.manifest = delivery_output.sign_manifest(
        {"statistics_request_id": request.id, "dataset_id": request.dataset_id,
         "data_version_id": request.data_version_id, "data_version_sha256": prepared.sha256,
         "method": request.method, "rules": result["rules"], "columns": result["columns"],
         "cells": len(result["rows"]), "suppressed_cells": result["suppressed_cells"],
         "sha256": hashlib.sha256(body_csv).hexdigest(), "result_sha256": _digest(result),
         "created_at": now.isoformat()},
        key=keyring.signing_key, public_key_b64=keyring.public_key_b64)
    session.flush()
    audit.record_audit(
        session, actor=actor, action="statistics_request.released",
        subject_type="statistics_request", subject_id=str(request.id),
        details={"dataset_id": request.dataset_id, "cells": len(result["rows"]),
                 "suppressed_cells": result["suppressed_cells"], "epsilon": request.epsilon,
                 "sha256": request.manifest["sha256"]})


# --- statistics requests: the holder's review --------------------------------------------------

def _is_holder_reviewer(actor: Principal) -> bool:
    return actor.has_scope(REVIEW_SCOPE) and actor.org_id is not None


def _require_holder_reviewer(actor: Principal) -> None:
    if not _is_holder_reviewer(actor):
        raise Forbidden("afgørelser om statistikforespørgsler kræver scopet {scope}",
                        scope=REVIEW_SCOPE)


def require_reviewable_request(session: Session, *, actor: Principal, request_id: int
                               ) -> StatisticsRequest:
    """A request on one of the actor's holder's datasets. Raises Forbidden for callers who
    review nothing, NotFound for another holder's or an unknown request (not revealed)."""
    _require_holder_reviewer(actor)
    found = get_statistics_request(session, request_id=request_id)
    if found is None:
        raise NotFound("statistikforespørgsel {id} findes ikke", id=request_id)
    dataset = catalog_services.require_dataset(session, dataset_id=found.dataset_id)
    if not actor.belongs_to(dataset.publisher_org_id):
        raise NotFound("statistikforespørgsel {id} findes ikke", id=request_id)
    return found


@dataclass(frozen=True)
class ReviewItem:
    request: StatisticsRequest
    company: str
    dataset_title: str

    @property
    def due_at(self) -> datetime:
        """When the holder should have decided."""
        return sla.add_working_days(self.request.created_at, REVIEW_WORKING_DAYS)

    def working_days_left(self, now: datetime) -> int:
        return sla.working_days_left(now, self.due_at)


def review_queue(session: Session, *, actor: Principal) -> list[ReviewItem]:
    """The statistics requests waiting for the actor's data holder, oldest first (Forbidden
    for anyone who reviews nothing)."""
    _require_holder_reviewer(actor)
    rows = session.execute(
        sa.select(StatisticsRequest, Organisation.name, Dataset.title)
        .join(Dataset, Dataset.id == StatisticsRequest.dataset_id)
        .join(Organisation, Organisation.id == StatisticsRequest.company_org_id)
        .where(StatisticsRequest.status == "review",
               Dataset.publisher_org_id == actor.org_id)
        .order_by(StatisticsRequest.created_at, StatisticsRequest.id))
    return [ReviewItem(request, company, title) for request, company, title in rows]


def review_item(session: Session, request: StatisticsRequest) -> ReviewItem:
    company = session.get(Organisation, request.company_org_id)
    dataset = catalog_services.require_dataset(session, dataset_id=request.dataset_id)
    return ReviewItem(request, company.name if company else "", dataset.title)


def review_statistics_request(session: Session, *, actor: Principal, request_id: int,
                              review: StatisticsReviewIn, keyring: Keyring, data_dir: Path,
                              now: datetime) -> StatisticsRequest:
    """Record the data holder's decision on a request a rule sent to review. Approving computes
    the table now (consent as of now) and releases it exactly as an automatic answer is;
    rejecting stores the comment for the company.

    Raises Forbidden (also for the person who asked), NotFound, Conflict (already decided, no
    data version, the dataset withdrawn, too few persons now, privacy budget exhausted) and
    Invalid (a table that would difference out a suppressed cell); then nothing changes.
    """
    request = require_reviewable_request(session, actor=actor, request_id=request_id)
    # Two reviewers deciding at the same moment must not both release or refuse.
    session.execute(sa.select(StatisticsRequest.id).where(StatisticsRequest.id == request.id)
                    .with_for_update())
    session.refresh(request)
    if request.status != "review":
        raise conflict("forespørgslen er allerede afgjort (status {status})",
                       status=request.status)
    if request.requested_by == audit.actor_label(actor):
        raise Forbidden("en forespørgsel afgøres af en anden end den, der stillede den")
    result, prepared = None, None
    if review.decision == "approve":
        result, prepared = _answer_after_review(session, request=request, keyring=keyring,
                                                data_dir=data_dir, now=now)
    request.reviewer_org_id, request.reviewed_by = actor.org_id, audit.actor_label(actor)
    request.review_comment, request.reviewed_at = review.comment, now
    if review.decision == "reject":
        request.status = "rejected"
    session.flush()
    audit.record_audit(
        session, actor=actor, action=f"statistics_request.{REVIEW_ACTIONS[review.decision]}",
        subject_type="statistics_request", subject_id=str(request.id),
        details={"dataset_id": request.dataset_id, "holder": actor.org_id,
                 "comment": review.comment})
    if result is not None and prepared is not None:
        _release(session, actor=actor, request=request, result=result, prepared=prepared,
                 keyring=keyring, now=now)
    return request


def _answer_after_review(session: Session, *, request: StatisticsRequest, keyring: Keyring,
                         data_dir: Path, now: datetime
                         ) -> tuple[dict[str, Any], store.PreparedVersion]:
    """The protected table of an approved request, over the current data version and consent."""
    dataset = catalog_services.require_dataset(session, dataset_id=request.dataset_id)
    if dataset.status != "published":
        raise conflict("datasættet er ikke længere udgivet; forespørgslen kan ikke besvares")
    question = _question(dataset, group_by=request.group_by,
                         asked=[MeasureIn.model_validate(m) for m in request.measures],
                         method=request.method)
    rules = disclosure_rules(session, dataset=dataset)
    prepared, version_id = _prepared(session, dataset, keyring=keyring, data_dir=data_dir)
    domains = _checked_domains(prepared, question, now)
    consent = _consent_mask(session, prepared, dataset, purpose=request.purpose, now=now)
    selected = _cohort_mask(prepared, dataset, request.cohort, now) & consent
    persons = int(_persons(prepared, selected).size)
    if persons < rules.threshold:
        raise conflict("kohorten har nu færre end {threshold} personer; tabellen kan ikke "
                       "frigives", threshold=rules.threshold)
    request.data_version_id = version_id
    result = _protected_table(session, request=request, dataset=dataset, prepared=prepared,
                              selected=selected, consent=consent, question=question,
                              rules=rules, domains=domains, keyring=keyring, now=now)
    return result, prepared


def released_result(session: Session, *, actor: Principal, request_id: int,
                    fmt: str) -> StatisticsRequest:
    """The request whose table may be handed out; raise NotFound, Conflict (no table)."""
    request = require_visible_request(session, request_id=request_id, actor=actor)
    if request.status != "released" or request.result is None:
        raise conflict("forespørgslen har ingen frigivet tabel (status {status})",
                       status=request.status)
    audit.record_audit(session, actor=actor, action="statistics_request.downloaded",
                       subject_type="statistics_request", subject_id=str(request.id),
                       details={"format": fmt})
    return request


# --- serialising and the public register -----------------------------------------------------

def request_to_json(request: StatisticsRequest, *, language: str = "da") -> dict[str, Any]:
    """The API form of a statistics request (reasons in the caller's language)."""
    decision = request.decision or {}
    reasons = [{"rule": r["rule"],
                "message": r.get("message_da") if language == "da" and r.get("message_da")
                else r.get("message", "")}
               for r in decision.get("reasons", [])]
    body: dict[str, Any] = {
        "id": request.id, "status": request.status, "title": request.title,
        "purpose": request.purpose, "dataset": request.dataset_id, "method": request.method,
        "measures": request.measures, "group_by": request.group_by, "cohort": request.cohort,
        "epsilon": request.epsilon,
        "decision": {"outcome": decision.get("outcome"), "reasons": reasons,
                     "policy_version": decision.get("policy_version")},
        "created_at": request.created_at.isoformat() if request.created_at else None,
    }
    if request.reviewed_at is not None:
        body["review"] = {"decision": "reject" if request.status == "rejected" else "approve",
                          "comment": request.review_comment or "",
                          "reviewed_by": request.reviewed_by or "",
                          "at": request.reviewed_at.isoformat()}
    if request.status == "released" and request.result is not None:
        body["result"] = request.result
        body["released_at"] = request.released_at.isoformat() if request.released_at else None
    return body


@dataclass(frozen=True)
class RegisterRow:
    request: StatisticsRequest
    company: str
    dataset_title: str


def list_public_statistics(session: Session, *, limit: int = 200) -> list[RegisterRow]:
    """Released statistics for the public register of data uses, newest first."""
    rows = session.execute(
        sa.select(StatisticsRequest, Organisation.name, Dataset.title)
        .join(Organisation, Organisation.id == StatisticsRequest.company_org_id)
        .join(Dataset, Dataset.id == StatisticsRequest.dataset_id)
        .where(StatisticsRequest.status == "released")
        .order_by(StatisticsRequest.released_at.desc(), StatisticsRequest.id.desc())
        .limit(limit))
    return [RegisterRow(request, company, title) for request, company, title in rows]


def public_statistics_json(session: Session, *, limit: int = 200) -> list[dict[str, Any]]:
    """The public register's entries for released statistics: who asked what, and why."""
    return [{"id": row.request.id, "title": row.request.title, "purpose": row.request.purpose,
             "company": row.company, "dataset": row.request.dataset_id,
             "dataset_title": row.dataset_title,
             "released_at": row.request.released_at.isoformat() if row.request.released_at
             else ""} for row in list_public_statistics(session, limit=limit)]
