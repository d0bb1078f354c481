"""Opportunities: who may register, see and change them, and the pipeline board."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace import audit
from marketplace.growth import problems
from marketplace.growth.models import ALL_STAGES, Opportunity, OpportunityCompany
from marketplace.growth.schemas import OpportunityChange, OpportunityIn
from marketplace.identity import services as identity_services
from marketplace.identity.models import Organisation
from marketplace.identity.principal import Principal
from marketplace.testbeds import services as testbeds_services
from marketplace.web.api import MAX_ID

PUBLIC_KINDS = ("national", "regional", "municipal")
BOARD_LIMIT_PER_STAGE = 50


def is_secretariat(actor: Principal) -> bool:
    """The cluster's secretariat: its staff, or a system of the cluster organisation."""
    if actor.kind == "client":
        return actor.org_kind == "cluster" and actor.has_scope("growth:write")
    return actor.kind == "staff" and actor.role == "secretariat"


def is_steering_group(actor: Principal) -> bool:
    return actor.kind == "staff" and actor.role == "steering_group"


def is_cluster(actor: Principal) -> bool:
    return is_secretariat(actor) or is_steering_group(actor)


def require_member(actor: Principal) -> None:
    """Staff and systems of the network see the pipeline; citizens and strangers do not."""
    if actor.kind not in ("staff", "client"):
        raise problems.forbidden("vækstpipelinen er for netværkets organisationer")


def _require_writer(actor: Principal) -> int:
    require_member(actor)
    if not actor.has_scope("growth:write") or actor.org_id is None:
        raise problems.forbidden("din rolle kan ikke registrere muligheder")
    return actor.org_id


def can_edit(actor: Principal, opportunity: Opportunity) -> bool:
    """The registering organisation and the secretariat may change an opportunity."""
    return is_secretariat(actor) or actor.belongs_to(opportunity.registered_by_org_id)


def _org(session: Session, slug: str, field: str, kinds: tuple[str, ...]) -> Organisation:
    org = identity_services.get_org(session, slug=slug)
    if org is None:
        raise problems.invalid_field(field, "ukendt organisation: {slug}", slug=slug)
    if org.kind not in kinds:
        raise problems.invalid_field(field, "{slug} er ikke en {kinds}", slug=slug,
                                     kinds="/".join(kinds))
    return org


def _companies(session: Session, slugs: list[str], field: str) -> list[Organisation]:
    orgs: list[Organisation] = []
    for slug in dict.fromkeys(slugs):
        orgs.append(_org(session, slug, field, ("company",)))
    return orgs


def check_themes(themes: list[str], field: str = "themes") -> list[str]:
    known = testbeds_services.VOCABULARY.themes
    unknown = [theme for theme in themes if theme not in known]
    if unknown:
        raise problems.invalid_field(field, "ukendte temaer: {codes}", codes=", ".join(unknown))
    return list(dict.fromkeys(themes))


def theme_label(code: str, lang: str) -> str:
    labels = testbeds_services.VOCABULARY.themes.get(code)
    return (labels.get(lang) or labels.get("da") or code) if labels else code


def theme_codes() -> list[str]:
    return list(testbeds_services.VOCABULARY.themes)


def create_opportunity(session: Session, *, actor: Principal, data: OpportunityIn,
                       stage: str = "bobler", now: datetime) -> Opportunity:
    """Register an opportunity at Bobler; raises Forbidden or Invalid (unknown organisations)."""
    org_id = _require_writer(actor)
    need_owner = (_org(session, data.need_owner, "need_owner", PUBLIC_KINDS)
                  if data.need_owner else None)
    companies = _companies(session, data.companies, "companies")
    opportunity = Opportunity(
        title=data.title, description=data.description, origin=data.origin, stage=stage,
        themes=check_themes(data.themes), need_owner_org_id=need_owner.id if need_owner else None,
        registered_by_org_id=org_id, registered_by_name=actor.name, created_at=now,
        updated_at=now,
        companies=[OpportunityCompany(org_id=org.id, position=i)
                   for i, org in enumerate(companies)],
    )
    session.add(opportunity)
    session.flush()
    audit.record_audit(session, actor=actor, action="opportunity.registered",
                       subject_type="opportunity", subject_id=str(opportunity.id),
                       details={"title": data.title, "stage": stage, "origin": data.origin})
    return opportunity


def storable_id(value: int) -> bool:
    """Whether `value` can name a row at all (ids are 32-bit; larger ones overflow the query)."""
    return 1 <= value <= MAX_ID


def get_opportunity(session: Session, *, opportunity_id: int) -> Opportunity | None:
    return session.get(Opportunity, opportunity_id) if storable_id(opportunity_id) else None


def require_opportunity(session: Session, *, actor: Principal,
                        opportunity_id: int) -> Opportunity:
    """An opportunity the actor may see; raises Forbidden or NotFound."""
    require_member(actor)
    opportunity = get_opportunity(session, opportunity_id=opportunity_id)
    if opportunity is None:
        raise problems.not_found("mulighed {id} findes ikke", id=opportunity_id)
    return opportunity


def change_opportunity(session: Session, *, actor: Principal, opportunity_id: int,
                       data: OpportunityChange, now: datetime) -> Opportunity:
    """Change title, description, need owner, companies or themes; raises Forbidden (another
    organisation's opportunity), NotFound or Invalid."""
    opportunity = require_opportunity(session, actor=actor, opportunity_id=opportunity_id)
    if not can_edit(actor, opportunity):
        raise problems.forbidden("kun den registrerende organisation og sekretariatet kan "
                                 "ændre muligheden")
    changed: dict[str, object] = {}
    if data.title is not None:
        opportunity.title = changed["title"] = data.title
    if data.description is not None:
        opportunity.description = data.description
        changed["description"] = True
    if data.need_owner is not None:
        owner = _org(session, data.need_owner, "need_owner", PUBLIC_KINDS)
        opportunity.need_owner_org_id = owner.id
        changed["need_owner"] = owner.slug
    if data.companies is not None:
        companies = _companies(session, data.companies, "companies")
        opportunity.companies = [OpportunityCompany(org_id=org.id, position=i)
                                 for i, org in enumerate(companies)]
        changed["companies"] = [org.slug for org in companies]
    if data.themes is not None:
        opportunity.themes = changed["themes"] = check_themes(data.themes)
    opportunity.updated_at = now
    session.flush()
    audit.record_audit(session, actor=actor, action="opportunity.changed",
                       subject_type="opportunity", subject_id=str(opportunity.id),
                       details=changed)
    return opportunity


@dataclass(frozen=True)
class BoardCard:
    id: int
    title: str
    stage: str
    origin: str
    need_owner: str | None
    awaiting_decision: bool
    updated_at: datetime


@dataclass(frozen=True)
class Board:
    counts: dict[str, int]
    columns: dict[str, list[BoardCard]]
    total: int


def pipeline_board(session: Session, *, actor: Principal, stage: str | None = None,
                   origin: str | None = None, theme: str | None = None,
                   q: str = "") -> Board:
    """Opportunities by stage with counts, filtered; each column shows the most recently
    changed ones first (plain rows, not objects: the board must stay fast at thousands)."""
    from marketplace.growth.models import Recommendation

    require_member(actor)
    conditions: list[sa.ColumnElement[bool]] = []
    if stage:
        conditions.append(Opportunity.stage == stage)
    if origin:
        conditions.append(Opportunity.origin == origin)
    if theme:
        check_themes([theme], "theme")
        # Theme codes are [a-z_] words; their quoted form matches the JSON text on both
        # SQLite and PostgreSQL.
        conditions.append(sa.cast(Opportunity.themes, sa.Text).like(f'%"{theme}"%'))
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        conditions.append(sa.or_(Opportunity.title.ilike(pattern, escape="\\"),
                                 Opportunity.description.ilike(pattern, escape="\\")))
    counts = dict.fromkeys(ALL_STAGES, 0)
    counts.update(dict(session.execute(sa.select(Opportunity.stage, sa.func.count())
                                       .where(*conditions).group_by(Opportunity.stage)).all()))
    pending = sa.exists().where(Recommendation.opportunity_id == Opportunity.id,
                                Recommendation.decided.is_(False))
    rows = session.execute(
        sa.select(Opportunity.id, Opportunity.title, Opportunity.stage, Opportunity.origin,
                  Organisation.name, pending, Opportunity.updated_at)
        .outerjoin(Organisation, Organisation.id == Opportunity.need_owner_org_id)
        .where(*conditions).order_by(Opportunity.updated_at.desc(), Opportunity.id.desc()))
    columns: dict[str, list[BoardCard]] = {stage_: [] for stage_ in ALL_STAGES}
    for row in rows:
        column = columns[row[2]]
        if len(column) < BOARD_LIMIT_PER_STAGE:
            column.append(BoardCard(*row))
    return Board(counts=counts, columns=columns, total=sum(counts.values()))


def awaiting_decision(session: Session, *, actor: Principal) -> list[Opportunity]:
    """Opportunities with a recommendation awaiting the steering group, by stage."""
    from marketplace.growth.models import Recommendation

    require_member(actor)
    query = sa.select(Opportunity).where(Opportunity.id.in_(
        sa.select(Recommendation.opportunity_id).where(Recommendation.decided.is_(False))))
    return sorted(session.scalars(query), key=lambda o: (
        ALL_STAGES.index(o.stage), o.id))


def list_opportunities(session: Session, *, actor: Principal, stage: str | None = None,
                       offset: int = 0, limit: int = 50) -> tuple[list[Opportunity], int]:
    """A page of opportunities, newest first, and how many there are."""
    require_member(actor)
    query = sa.select(Opportunity)
    if stage:
        query = query.where(Opportunity.stage == stage)
    total = session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
    items = list(session.scalars(query.order_by(Opportunity.id.desc()).offset(offset)
                                 .limit(limit)))
    return items, total


def audited_history(session: Session, *, opportunity: Opportunity) -> list[audit.AuditEntry]:
    """The opportunity's entries in the audit chain, oldest first."""
    return audit.audit_trail(session, subject_type="opportunity",
                             subject_id=str(opportunity.id))
