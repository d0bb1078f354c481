"""Business rules of the consent domain.

Citizens (or a parent for a child under 15) record consent events; delivery asks for a
snapshot as of a permit's approval time and records which citizens' data it used.
"""
import dataclasses
import hmac
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from hashlib import sha256
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from marketplace import audit
from marketplace import cpr as cpr_rules
from marketplace.catalog import services as catalog_services
from marketplace.catalog.purposes import Purpose, load_taxonomy
from marketplace.consent import evaluation, receipts
from marketplace.consent.commands import ConsentChoice, GuardianshipRegistration
from marketplace.consent.evaluation import (
    OPT_OUT,
    OPT_OUT_WITHDRAWN,
    SCOPE_ALL,
    SCOPE_DATASET,
    SCOPE_HOLDER,
    CitizenConsent,
    ConsentSnapshot,
    StandingChoice,
)
from marketplace.consent.models import (
    ConsentEvent,
    ConsentNotice,
    ConsentRevision,
    DataUse,
    DataUseSubject,
    Guardianship,
)
from marketplace.db import utcnow
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from marketplace.identity import services as identity_services
from marketplace.identity.models import Citizen, Organisation
from marketplace.identity.principal import Principal
from marketplace.languages import N_
from marketplace.security import Keyring

CHILD_AGE_LIMIT = 15
CHANNELS = ("web", "api", "demo")
_SUBJECT_KEY = r"[0-9a-f]{64}"
_SNAPSHOT_CACHE_SIZE = 64
_snapshots: OrderedDict[tuple, ConsentSnapshot] = OrderedDict()
_snapshot_lock = threading.Lock()
_BULK_BATCH = 500_000
_BULK_SUBJECTS_POSTGRES = (
    "INSERT INTO data_use_subject (subject_key, use_id) SELECT k, :use_id "
    "FROM unnest(string_to_array(:keys, ',')) AS k")
_BULK_SUBJECTS_SQLITE = (
    "INSERT INTO data_use_subject (subject_key, use_id) SELECT j.value, :use_id "
    "FROM json_each(:keys) AS j")
_RECORDED_SUBJECTS_POSTGRES = (
    "SELECT s.subject_key FROM unnest(string_to_array(:keys, ',')) AS k "
    "JOIN data_use_subject AS s ON s.subject_key = k WHERE s.use_id = ANY(:use_ids)")
_RECORDED_SUBJECTS_SQLITE = (
    "SELECT s.subject_key FROM json_each(:keys) AS j "
    "JOIN data_use_subject AS s ON s.subject_key = j.value "
    "WHERE s.use_id IN (SELECT value FROM json_each(:use_ids))")


# --- purposes -----------------------------------------------------------------------------------

def list_purposes() -> list[Purpose]:
    """Every purpose of the taxonomy, the prohibited uses included."""
    return list(load_taxonomy().purposes)


def get_purpose(code: str) -> Purpose | None:
    return load_taxonomy().get(code)


def require_purpose(code: str) -> Purpose:
    """Return the purpose; raises NotFound for an unknown code."""
    purpose = get_purpose(code)
    if purpose is None:
        raise NotFound("Ukendt formål {code}.", code=code)
    return purpose


def current_notice(session: Session) -> ConsentNotice | None:
    """The newest published consent notice, or None while the taxonomy's own version holds."""
    return session.scalars(sa.select(ConsentNotice).order_by(ConsentNotice.id.desc())
                           .limit(1)).first()


def notice_version(session: Session) -> str:
    """The version of the notice citizens consent under now."""
    notice = current_notice(session)
    return notice.version if notice is not None else load_taxonomy().notice_version


def list_notices(session: Session, *, actor: Principal) -> list[ConsentNotice]:
    """Every published consent notice, newest first; raise Forbidden unless the operator."""
    if not actor.is_operator:
        raise Forbidden("kun platformens operatør ser samtykketekstens versioner")
    return list(session.scalars(sa.select(ConsentNotice).order_by(ConsentNotice.id.desc())))


_NOTICE_VERSION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.\-]{0,31}$")


def publish_notice(session: Session, *, actor: Principal, version: str, summary: str,
                   now: datetime) -> ConsentNotice:
    """Make a new notice version current, audited: later consent events name it, and a citizen
    who confirms an earlier choice records it again under the new notice.

    Raises Forbidden (not the operator), Invalid (malformed version or empty summary) and
    Conflict (a version used before).
    """
    if not actor.is_operator:
        raise Forbidden("kun platformens operatør offentliggør samtykketeksten")
    if not _NOTICE_VERSION.match(version or ""):
        raise Invalid.field("version", "brug 1-32 bogstaver, tal, punktum eller bindestreg")
    if not (summary or "").strip():
        raise Invalid.field("summary", "skal udfyldes")
    used = {notice.version for notice in list_notices(session, actor=actor)} | {
        load_taxonomy().notice_version}
    if version in used:
        message = "versionen er brugt før; vælg en ny"
        raise Conflict(message, errors=[{"field": "version", "message": message}])
    notice = ConsentNotice(version=version, summary=summary.strip(), published_at=now,
                           published_by=audit.actor_label(actor))
    session.add(notice)
    session.flush()
    audit.record_audit(session, actor=actor, action="consent.notice_published",
                       subject_type="consent_notice", subject_id=str(notice.id),
                       details={"version": version})
    return notice


# --- who acts for whom --------------------------------------------------------------------------

def age_on(birth_date: date, day: date) -> int:
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month,
                                                                 birth_date.day))


def is_child(citizen: Citizen, *, today: date) -> bool:
    return age_on(citizen.birth_date, today) < CHILD_AGE_LIMIT


def list_wards(session: Session, *, guardian_citizen_id: int, now: datetime) -> list[Citizen]:
    """Children under 15 the citizen may manage consent for, youngest last."""
    children = session.scalars(
        sa.select(Citizen).join(Guardianship, Guardianship.child_citizen_id == Citizen.id)
        .where(Guardianship.guardian_citizen_id == guardian_citizen_id,
               Guardianship.ended_at.is_(None))
        .order_by(Citizen.birth_date, Citizen.id))
    return [child for child in children if is_child(child, today=now.date())]


def require_subject(session: Session, *, actor: Principal, subject_citizen_id: int | None,
                    now: datetime) -> Citizen:
    """The citizen whose consent the actor manages: themselves or a child under 15 in their care.

    Raises Unauthorized when the actor is not a signed-in citizen and Forbidden for anyone else.
    """
    if actor.kind != "citizen" or actor.citizen_id is None:
        raise Unauthorized("Log ind som borger for at styre dit samtykke.")
    if subject_citizen_id is None or subject_citizen_id == actor.citizen_id:
        return identity_services.require_citizen(session, citizen_id=actor.citizen_id)
    child = next((ward for ward in list_wards(session, guardian_citizen_id=actor.citizen_id,
                                              now=now) if ward.id == subject_citizen_id), None)
    if child is None:
        raise Forbidden("Du kan kun styre samtykke for dig selv og dine egne børn under 15 år.")
    return child


def citizen_id(actor: Principal) -> int:
    """The signed-in citizen's id; raises Unauthorized for anyone else."""
    if actor.kind != "citizen" or actor.citizen_id is None:
        raise Unauthorized("Log ind som borger for at styre dit samtykke.")
    return actor.citizen_id


def _require_subject_to_change(session: Session, *, actor: Principal,
                               subject_citizen_id: int | None, now: datetime) -> Citizen:
    """As require_subject; children under 15 cannot change their own consent (a parent does)."""
    citizen = require_subject(session, actor=actor, subject_citizen_id=subject_citizen_id,
                              now=now)
    if citizen.id == actor.citizen_id and is_child(citizen, today=now.date()):
        raise Forbidden("Samtykke for børn under 15 år styres af en forælder med "
                        "forældremyndighed.")
    return citizen


def _citizen_events(session: Session, *, citizen_id: int) -> list[ConsentEvent]:
    return list(session.scalars(
        sa.select(ConsentEvent).where(ConsentEvent.citizen_id == citizen_id)
        .order_by(ConsentEvent.at, ConsentEvent.id)))


def _standing(session: Session, *, citizen_id: int) -> CitizenConsent:
    return evaluation.fold_citizen_events(_citizen_events(session, citizen_id=citizen_id))


# --- reading and changing one citizen's consent -------------------------------------------------

def get_consents(session: Session, *, actor: Principal, subject_citizen_id: int | None = None,
                 now: datetime | None = None) -> CitizenConsent:
    """The standing choices and opt-out of the actor (or their child); raises Forbidden."""
    citizen = require_subject(session, actor=actor, subject_citizen_id=subject_citizen_id,
                              now=now or utcnow())
    return _standing(session, citizen_id=citizen.id)


def list_consent_events(session: Session, *, actor: Principal,
                        subject_citizen_id: int | None = None,
                        now: datetime | None = None) -> list[ConsentEvent]:
    """Every consent event of the actor (or their child), oldest first; raises Forbidden."""
    citizen = require_subject(session, actor=actor, subject_citizen_id=subject_citizen_id,
                              now=now or utcnow())
    return _citizen_events(session, citizen_id=citizen.id)


def _require_scope(session: Session, choice: ConsentChoice) -> None:
    """Raise Invalid unless the choice names a data holder or a published dataset that exists."""
    scope = choice.scope
    if scope.type != SCOPE_ALL and not _scope_exists(session, scope.type, scope.id):
        raise Invalid.field("scope.id", N_("Findes ikke."))


def _scope_exists(session: Session, scope_type: str, scope_id: object) -> bool:
    if isinstance(scope_id, bool) or not isinstance(scope_id, int) or not 0 < scope_id < 2**31:
        return False
    if scope_type == SCOPE_HOLDER:
        org = identity_services.get_org_by_id(session, org_id=scope_id)
        return org is not None and org.is_data_holder
    dataset = catalog_services.get_dataset(session, dataset_id=scope_id)
    return dataset is not None and dataset.status == "published"


def _append(session: Session, *, citizen: Citizen, actor: Principal, decision: str,
            scope_type: str, scope_id: int | None, purpose: str | None, channel: str,
            now: datetime) -> ConsentEvent:
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    event = ConsentEvent(citizen_id=citizen.id, subject_key=citizen.cpr_index,
                         actor_citizen_id=actor.citizen_id, at=now, decision=decision,
                         scope_type=scope_type, scope_id=scope_id, purpose=purpose,
                         notice_version=notice_version(session), channel=channel)
    session.add(event)
    session.flush()
    bump_consent_revision(session)
    return event


def bump_consent_revision(session: Session) -> None:
    """Count consent events added in this transaction (call once per batch of inserts).

    The row lock this takes makes concurrent writers of consent commit one after the other, so
    the counter a reader sees always covers every event that reader can see.
    """
    bumped = session.execute(sa.update(ConsentRevision).where(ConsentRevision.id == 1)
                             .values(revision=ConsentRevision.revision + 1))
    if bumped.rowcount == 0:  # type: ignore[attr-defined]  # a database made without migrations
        session.add(ConsentRevision(id=1, revision=1))
        session.flush()


def set_consent(session: Session, *, actor: Principal, choice: ConsentChoice,
                subject_citizen_id: int | None = None, channel: str = "web",
                now: datetime | None = None) -> CitizenConsent:
    """Permit, deny or clear a purpose for all holders, one holder or one dataset.

    Records a new event only when the choice changes (or was made under an older notice).
    Raises Invalid for a bad choice, Forbidden when acting for someone else or for a child
    under 15 acting alone.
    """
    now = now or utcnow()
    citizen = _require_subject_to_change(session, actor=actor,
                                         subject_citizen_id=subject_citizen_id, now=now)
    _require_scope(session, choice)
    scope_type, scope_id = choice.scope.type, choice.scope.id
    purpose, decision = choice.purpose, choice.decision
    standing = _standing(session, citizen_id=citizen.id)
    current = standing.choice(purpose=purpose, scope_type=scope_type, scope_id=scope_id)
    unchanged = (current is None if decision == evaluation.CLEAR else
                 current is not None and current.decision == decision
                 and current.notice_version == notice_version(session))
    if unchanged:
        return standing
    _append(session, citizen=citizen, actor=actor, decision=decision, scope_type=scope_type,
            scope_id=scope_id, purpose=purpose, channel=channel, now=now)
    return _standing(session, citizen_id=citizen.id)


def set_opt_out(session: Session, *, actor: Principal, opted_out: bool,
                subject_citizen_id: int | None = None, channel: str = "web",
                now: datetime | None = None) -> CitizenConsent:
    """Opt out of all secondary use (EHDS Art. 71) or take the opt-out back; raises Forbidden."""
    now = now or utcnow()
    citizen = _require_subject_to_change(session, actor=actor,
                                         subject_citizen_id=subject_citizen_id, now=now)
    standing = _standing(session, citizen_id=citizen.id)
    if standing.opt_out == opted_out:
        return standing
    _append(session, citizen=citizen, actor=actor,
            decision=OPT_OUT if opted_out else OPT_OUT_WITHDRAWN, scope_type=SCOPE_ALL,
            scope_id=None, purpose=None, channel=channel, now=now)
    return _standing(session, citizen_id=citizen.id)


# --- the consent page ---------------------------------------------------------------------------

@dataclass(frozen=True)
class ScopedChoice:
    choice: StandingChoice
    scope_name: str


@dataclass(frozen=True)
class PurposeOverview:
    purpose: Purpose
    general: StandingChoice | None
    exceptions: tuple[ScopedChoice, ...]


@dataclass(frozen=True)
class ConsentOverview:
    citizen: Citizen
    acting_for_child: bool
    consent: CitizenConsent
    purposes: tuple[PurposeOverview, ...]
    prohibited: tuple[Purpose, ...]
    holders: tuple[Organisation, ...]
    datasets: tuple[tuple[int, str, str | None], ...]  # id, title, English title
    wards: tuple[Citizen, ...]
    may_change: bool


@dataclass(frozen=True)
class ScopeName:
    slug: str
    name: str


def _scope_names(session: Session, choices: Iterable[StandingChoice | ConsentEvent]
                 ) -> dict[tuple[str, int], ScopeName]:
    """Names of the holders and datasets the choices are scoped to (blank when gone)."""
    names: dict[tuple[str, int], ScopeName] = {}
    for choice in choices:
        if choice.scope_id is None:
            continue
        if choice.scope_type == SCOPE_HOLDER:
            org = identity_services.get_org_by_id(session, org_id=choice.scope_id)
            names[(SCOPE_HOLDER, choice.scope_id)] = (ScopeName(org.slug, org.name) if org
                                                      else ScopeName("", ""))
        elif choice.scope_type == SCOPE_DATASET:
            dataset = catalog_services.get_dataset(session, dataset_id=choice.scope_id)
            names[(SCOPE_DATASET, choice.scope_id)] = ScopeName(
                str(choice.scope_id), dataset.title if dataset else "")
    return names


def consent_overview(session: Session, *, actor: Principal,
                     subject_citizen_id: int | None = None,
                     now: datetime | None = None) -> ConsentOverview:
    """What the consent page shows: per purpose the general choice and its exceptions."""
    now = now or utcnow()
    citizen = require_subject(session, actor=actor, subject_citizen_id=subject_citizen_id,
                              now=now)
    consent = _standing(session, citizen_id=citizen.id)
    names = _scope_names(session, consent.choices)
    taxonomy = load_taxonomy()
    purposes = tuple(PurposeOverview(
        purpose=purpose, general=consent.choice(purpose=purpose.code),
        exceptions=tuple(ScopedChoice(choice=c, scope_name=names[(c.scope_type, c.scope_id)].name)
                         for c in consent.choices if c.purpose == purpose.code
                         and c.scope_type != SCOPE_ALL and c.scope_id is not None))
        for purpose in taxonomy.selectable)
    holders = tuple(org for org in identity_services.list_orgs(
        session, kinds=("national", "regional", "municipal")) if org.is_data_holder)
    datasets = tuple((d.id, d.title, d.title_en)
                     for d in catalog_services.list_published_datasets(session))
    return ConsentOverview(
        citizen=citizen, acting_for_child=citizen.id != actor.citizen_id, consent=consent,
        purposes=purposes, prohibited=tuple(p for p in taxonomy.purposes if p.prohibited),
        holders=holders, datasets=datasets,
        wards=tuple(list_wards(session, guardian_citizen_id=citizen_id(actor), now=now)),
        may_change=citizen.id != actor.citizen_id or not is_child(citizen, today=now.date()))


@dataclass(frozen=True)
class ConsentHistory:
    citizen: Citizen
    acting_for_child: bool
    events: tuple[ConsentEvent, ...]
    scope_names: dict[tuple[str, int], str]


def consent_history(session: Session, *, actor: Principal, subject_citizen_id: int | None = None,
                    now: datetime | None = None) -> ConsentHistory:
    """Every consent event of the actor (or their child), oldest first, with scope names."""
    citizen = require_subject(session, actor=actor, subject_citizen_id=subject_citizen_id,
                              now=now or utcnow())
    events = _citizen_events(session, citizen_id=citizen.id)
    names = _scope_names(session, (e for e in events if e.scope_type != SCOPE_ALL))
    return ConsentHistory(
        citizen=citizen, acting_for_child=citizen.id != actor.citizen_id, events=tuple(events),
        scope_names={key: name.name for key, name in names.items()})


# --- receipts -----------------------------------------------------------------------------------

def citizen_pseudonym(citizen: Citizen, *, keyring: Keyring) -> str:
    """A stable pseudonymous id for receipts; unlinkable to the CPR without the platform key."""
    key = keyring.derive("consent-receipt-pseudonym")
    return hmac.new(key, citizen.cpr_index.encode(), sha256).hexdigest()[:32]


def receipt_facts(session: Session, *, actor: Principal, keyring: Keyring, notice_url: str,
                  subject_citizen_id: int | None = None,
                  now: datetime | None = None) -> receipts.ReceiptFacts:
    """Everything the consent receipts state; raises Forbidden when acting for someone else."""
    now = now or utcnow()
    citizen = require_subject(session, actor=actor, subject_citizen_id=subject_citizen_id,
                              now=now)
    consent = _standing(session, citizen_id=citizen.id)
    names = _scope_names(session, consent.choices)
    actor_ids = {c.actor_citizen_id for c in consent.choices} | {citizen.id}
    if consent.opt_out_event is not None:
        actor_ids.add(consent.opt_out_event.actor_citizen_id)
    actors = {actor_id: identity_services.require_citizen(session, citizen_id=actor_id)
              for actor_id in actor_ids}
    return receipts.ReceiptFacts(
        citizen_id=citizen.id, pseudonym=citizen_pseudonym(citizen, keyring=keyring),
        consent=consent,
        taxonomy=dataclasses.replace(load_taxonomy(), notice_version=notice_version(session)),
        holders={scope_id: (name.slug, name.name) for (kind, scope_id), name in names.items()
                 if kind == SCOPE_HOLDER},
        datasets={scope_id: name.name for (kind, scope_id), name in names.items()
                  if kind == SCOPE_DATASET},
        actor_pseudonyms={actor_id: citizen_pseudonym(who, keyring=keyring)
                          for actor_id, who in actors.items()},
        generated_at=now, notice_url=notice_url)


@dataclass(frozen=True)
class ConsentReceipt:
    """The readable receipt: the choices as the consent page shows them, and the facts the
    FHIR and ISO receipts are built from (whose content the receipt's hash covers)."""

    overview: ConsentOverview
    facts: receipts.ReceiptFacts


def consent_receipt(session: Session, *, actor: Principal, keyring: Keyring, notice_url: str,
                    subject_citizen_id: int | None = None,
                    now: datetime | None = None) -> ConsentReceipt:
    """What the readable consent receipt states; raises Forbidden when acting for someone
    who is not the actor's child under 15."""
    now = now or utcnow()
    return ConsentReceipt(
        overview=consent_overview(session, actor=actor, subject_citizen_id=subject_citizen_id,
                                  now=now),
        facts=receipt_facts(session, actor=actor, keyring=keyring, notice_url=notice_url,
                            subject_citizen_id=subject_citizen_id, now=now))


# --- bulk evaluation for delivery ---------------------------------------------------------------

@dataclass(frozen=True)
class ConsentState:
    """Where consent stands: a revision that moves with every committed event, and the time of
    the newest event (None before any)."""

    revision: int
    latest_at: datetime | None


def consent_state_columns() -> tuple[sa.ScalarSelect[Any], sa.ScalarSelect[Any]]:
    """The revision and the newest event's time as two columns, for a caller that reads them
    in the same round trip as something else (`ConsentState(*those values)`)."""
    return (sa.select(ConsentRevision.revision).where(ConsentRevision.id == 1).scalar_subquery(),
            sa.select(sa.func.max(ConsentEvent.at)).scalar_subquery())


def consent_state(session: Session) -> ConsentState:
    revision, latest_at = session.execute(sa.select(*consent_state_columns())).one()
    return ConsentState(int(revision or 0), latest_at)


def consent_snapshot(session: Session, *, purpose: str, holder_org_id: int | None,
                     dataset_id: int | None, as_of: datetime,
                     state: ConsentState | None = None) -> ConsentSnapshot:
    """Consent for a purpose, holder and dataset from the events in force at `as_of`.

    Snapshots are kept per consent revision: while no event is added, every `as_of` at or after
    the newest event sees the same snapshot, so access decisions (which ask "as of now") reuse
    it. The revision, not the newest id or time, keys the cache: an event that commits after a
    higher-numbered one still moves the revision on. `state` is the consent state when the
    caller read it already in this transaction.
    """
    state = state or consent_state(session)
    moment = "current" if state.latest_at is None or as_of >= state.latest_at else as_of
    # The URL itself, not its text: rendering it costs more than the rest of a cache hit.
    key = (session.get_bind().engine.url, purpose, holder_org_id, dataset_id, state.revision,
           moment)
    with _snapshot_lock:
        if key in _snapshots:
            _snapshots.move_to_end(key)
            return _snapshots[key].at(as_of)
    snapshot = _build_snapshot(session, purpose=purpose, holder_org_id=holder_org_id,
                               dataset_id=dataset_id, as_of=as_of)
    with _snapshot_lock:
        _snapshots[key] = snapshot
        while len(_snapshots) > _SNAPSHOT_CACHE_SIZE:
            _snapshots.popitem(last=False)
    return snapshot


def _build_snapshot(session: Session, *, purpose: str, holder_org_id: int | None,
                    dataset_id: int | None, as_of: datetime) -> ConsentSnapshot:
    e = ConsentEvent
    scope_matches = [e.scope_type == SCOPE_ALL]
    if holder_org_id is not None:
        scope_matches.append(sa.and_(e.scope_type == SCOPE_HOLDER, e.scope_id == holder_org_id))
    if dataset_id is not None:
        scope_matches.append(sa.and_(e.scope_type == SCOPE_DATASET, e.scope_id == dataset_id))
    # Core rows in time order, without timestamps: the query already applies `as_of`.
    rows = session.connection().execute(
        sa.select(e.subject_key, e.decision, e.scope_type, e.scope_id, e.purpose)
        .where(e.at <= as_of,
               sa.or_(e.decision.in_((OPT_OUT, OPT_OUT_WITHDRAWN)),
                      sa.and_(e.purpose == purpose, sa.or_(*scope_matches))))
        .order_by(e.at, e.id)).all()
    names = ("subject_key", "decision", "scope_type", "scope_id", "purpose")
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    events = pd.DataFrame({name: pd.Series(values, dtype="float64" if name == "scope_id"
                                           else "str" if name == "subject_key" else object)
                           for name, values in zip(names, columns, strict=True)})
    return evaluation.build_snapshot(events, purpose=purpose, holder_org_id=holder_org_id,
                                     dataset_id=dataset_id, as_of=as_of)


def consent_revision(session: Session) -> int:
    """A number that grows whenever consent events are committed (a safe cache key)."""
    revision = session.scalar(sa.select(ConsentRevision.revision).where(ConsentRevision.id == 1))
    return int(revision or 0)


# --- transparency: who used my data -------------------------------------------------------------

def record_data_uses(session: Session, *, permit_id: int, dataset_id: int, holder_org_id: int,
                     company_org_id: int, purpose: str, subject_keys: Iterable[str],
                     at: datetime, extract_id: int | None = None,
                     workspace_job_id: int | None = None) -> int:
    """Record that these citizens' data went into an extract, or into the permit's secure
    processing environment (the first job that analysed it); returns the citizens added.

    Idempotent per extract and dataset, and per permit and dataset in the workspace; missing
    keys are skipped, malformed ones raise Invalid.
    """
    if (extract_id is None) == (workspace_job_id is None):
        raise ValueError("name either the extract or the workspace job")
    require_purpose(purpose)
    keys = pd.Series(subject_keys if isinstance(subject_keys, pd.Series) else list(subject_keys),
                     dtype="str").dropna().drop_duplicates()
    if not keys.str.fullmatch(_SUBJECT_KEY).all():
        raise Invalid("Personnøgler skal være blinde CPR-indeks (64 hexadecimale cifre).")
    same_use = (DataUse.extract_id == extract_id if extract_id is not None else
                sa.and_(DataUse.permit_id == permit_id, DataUse.workspace_job_id.is_not(None)))
    uses = session.scalars(sa.select(DataUse).where(same_use, DataUse.dataset_id == dataset_id)
                           ).all()
    postgres = session.get_bind().dialect.name == "postgresql"
    new = keys.tolist()
    if uses:  # a repeat: leave out the citizens these uses already name
        already = _recorded_subjects(session, keys=new, use_ids=[u.id for u in uses],
                                     postgres=postgres)
        new = [k for k in new if k not in already]
    if not new:
        return 0
    use = next((u for u in uses if u.extract_id == extract_id
                and u.workspace_job_id == workspace_job_id), None)
    if use is None:
        use = DataUse(extract_id=extract_id, workspace_job_id=workspace_job_id,
                      permit_id=permit_id, dataset_id=dataset_id, holder_org_id=holder_org_id,
                      company_org_id=company_org_id, purpose=purpose, persons=0, at=at)
        session.add(use)
        session.flush()
    use.persons += len(new)
    # One set-based statement per batch: the database expands the keys, so no Python object or
    # parameter set is made per citizen.
    statement = sa.text(_BULK_SUBJECTS_POSTGRES if postgres else _BULK_SUBJECTS_SQLITE)
    for start in range(0, len(new), _BULK_BATCH):
        batch = new[start:start + _BULK_BATCH]
        session.execute(statement, {"use_id": use.id, "keys": _key_text(batch, postgres)})
    return len(new)


def _key_text(keys: list[str], postgres: bool) -> str:
    """Validated keys as one text the database splits: comma-separated for PostgreSQL (bound as
    an array, a million keys took longer to send than to write), a JSON array for SQLite."""
    return ",".join(keys) if postgres else json.dumps(keys)


def _recorded_subjects(session: Session, *, keys: list[str], use_ids: list[int],
                       postgres: bool) -> set[str]:
    """Those of the keys that the uses already name, looked up by the subjects' primary key
    (a use's subjects have no index of their own)."""
    statement = sa.text(_RECORDED_SUBJECTS_POSTGRES if postgres else _RECORDED_SUBJECTS_SQLITE)
    statement = statement.bindparams(
        sa.bindparam("use_ids", type_=ARRAY(sa.Integer) if postgres else sa.Text()))
    already: set[str] = set()
    for start in range(0, len(keys), _BULK_BATCH):
        batch = keys[start:start + _BULK_BATCH]
        already.update(session.scalars(statement, {
            "keys": _key_text(batch, postgres),
            "use_ids": use_ids if postgres else json.dumps(use_ids)}))
    return already


@dataclass(frozen=True)
class DataUseView:
    extract_id: int | None
    workspace_job_id: int | None
    permit_id: int
    dataset_id: int
    dataset_title: str
    holder: Organisation
    company: Organisation
    purpose: Purpose | None
    purpose_code: str
    at: datetime


def list_data_uses(session: Session, *, actor: Principal, subject_citizen_id: int | None = None,
                   now: datetime | None = None) -> list[DataUseView]:
    """Every extract that contained the citizen's records, and every permit whose secure
    processing environment analysed them, newest first; raises Forbidden."""
    citizen = require_subject(session, actor=actor, subject_citizen_id=subject_citizen_id,
                              now=now or utcnow())
    uses = session.scalars(
        sa.select(DataUse).join(DataUseSubject, DataUseSubject.use_id == DataUse.id)
        .where(DataUseSubject.subject_key == citizen.cpr_index)
        .order_by(DataUse.at.desc(), DataUse.id.desc())).all()
    titles: dict[int, str] = {}
    for dataset_id in {use.dataset_id for use in uses}:
        dataset = catalog_services.get_dataset(session, dataset_id=dataset_id)
        titles[dataset_id] = dataset.title if dataset else ""
    return [DataUseView(
        extract_id=use.extract_id, workspace_job_id=use.workspace_job_id,
        permit_id=use.permit_id, dataset_id=use.dataset_id,
        dataset_title=titles[use.dataset_id],
        holder=identity_services.require_org_by_id(session, org_id=use.holder_org_id),
        company=identity_services.require_org_by_id(session, org_id=use.company_org_id),
        purpose=get_purpose(use.purpose), purpose_code=use.purpose, at=use.at) for use in uses]


# --- guardianships ------------------------------------------------------------------------------

def _child_from_cpr(session: Session, *, keyring: Keyring, child_cpr: str,
                    today: date) -> Citizen | None:
    """The registered child for a CPR of someone under 15; None for invalid or older CPRs."""
    try:
        normalised = cpr_rules.normalise_cpr(child_cpr)
    except (ValueError, TypeError):
        return None
    if age_on(cpr_rules.birth_date(normalised), today) >= CHILD_AGE_LIMIT:
        return None
    child = identity_services.find_citizen_by_cpr(session, keyring=keyring, cpr=normalised)
    if child is None:
        child = identity_services.register_citizen(session, keyring=keyring, cpr=normalised,
                                                   name="")
    return child


def _link(session: Session, *, guardian: Citizen, child: Citizen, source: str) -> Guardianship:
    link = session.scalar(sa.select(Guardianship).where(
        Guardianship.guardian_citizen_id == guardian.id,
        Guardianship.child_citizen_id == child.id))
    if link is None:
        link = Guardianship(guardian_citizen_id=guardian.id, child_citizen_id=child.id,
                            source=source)
        session.add(link)
    elif link.ended_at is not None:
        link.ended_at, link.source = None, source
    session.flush()
    return link


def register_guardianships(session: Session, *, keyring: Keyring, guardian: Citizen,
                           child_cprs: list[str],
                           now: datetime | None = None) -> list[Guardianship]:
    """Record the children under 15 named by the sign-in claim; returns the active links.

    Invalid CPRs, the guardian's own CPR and children aged 15 or more are ignored. Links that
    came from an earlier claim and are no longer named end (operator links stay).
    """
    now = now or utcnow()
    children = []
    for child_cpr in child_cprs if isinstance(child_cprs, list | tuple) else []:
        child = (_child_from_cpr(session, keyring=keyring, child_cpr=child_cpr, today=now.date())
                 if isinstance(child_cpr, str) else None)
        if child is not None and child.id != guardian.id:
            children.append(child)
    links = [_link(session, guardian=guardian, child=child, source="claim") for child in children]
    named = {child.id for child in children}
    for stale in session.scalars(sa.select(Guardianship).where(
            Guardianship.guardian_citizen_id == guardian.id, Guardianship.source == "claim",
            Guardianship.ended_at.is_(None))):
        if stale.child_citizen_id not in named:
            stale.ended_at = now
    session.flush()
    return links


def _require_operator(actor: Principal) -> None:
    if not actor.is_operator:
        raise Forbidden("Kun platformens operatør kan registrere forældremyndighed.")


def register_guardianship(session: Session, *, actor: Principal, keyring: Keyring,
                          registration: GuardianshipRegistration,
                          now: datetime | None = None) -> Guardianship:
    """Register a parent's custody of a child under 15 (operator only).

    Raises Forbidden for anyone but the operator, Invalid for bad CPRs or a child aged 15+.
    """
    _require_operator(actor)
    now = now or utcnow()
    guardian_cpr, child_cpr = registration.guardian_cpr, registration.child_cpr
    errors = []
    guardian_valid = cpr_rules.is_valid_cpr(guardian_cpr)
    if not guardian_valid:
        errors.append({"field": "guardian_cpr", "message": "Not a valid CPR number."})
    child = _child_from_cpr(session, keyring=keyring, child_cpr=child_cpr, today=now.date())
    if child is None:
        errors.append({"field": "child_cpr",
                       "message": "Not a valid CPR number of a child under 15."})
    if errors or child is None:
        raise Invalid("Forældremyndigheden er ikke gyldig.", errors=errors)
    guardian = identity_services.find_citizen_by_cpr(session, keyring=keyring, cpr=guardian_cpr)
    if guardian is None:
        guardian = identity_services.register_citizen(session, keyring=keyring,
                                                      cpr=guardian_cpr, name="")
    if guardian.id == child.id:
        raise Invalid("En borger kan ikke være sin egen værge.",
                      errors=[{"field": "child_cpr", "message": "Same person as the guardian."}])
    return _link(session, guardian=guardian, child=child, source="operator")


def end_guardianship(session: Session, *, actor: Principal, guardianship_id: int,
                     now: datetime | None = None) -> Guardianship:
    """End a guardianship (operator only); raises Forbidden or NotFound."""
    _require_operator(actor)
    link = session.get(Guardianship, guardianship_id)
    if link is None:
        raise NotFound("Forældremyndigheden findes ikke.")
    if link.ended_at is None:
        link.ended_at = now or utcnow()
        session.flush()
    return link
