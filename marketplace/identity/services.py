"""Organisations, staff, citizens and API clients: the rules of who is who."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, select
from sqlalchemy import update as sa_update
from sqlalchemy.orm import Session

from marketplace import audit
from marketplace.cpr import birth_date, mask_cpr, normalise_cpr
from marketplace.db import adopt, column_rows, utcnow
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from marketplace.identity.models import (
    ORG_KINDS,
    ROLES,
    SCOPES,
    ApiClient,
    ApiToken,
    Citizen,
    Organisation,
    SignIn,
    User,
)
from marketplace.identity.principal import ROLE_SCOPES, Principal
from marketplace.languages import N_
from marketplace.security import Keyring
from marketplace.statements import DriverStatement

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,78}[a-z0-9]$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
COMPANY_ROLES = ("company_member",)
HOLDER_ROLES = ("holder_admin", "reviewer")
HOST_ROLES = ("host_member", "holder_admin")


# Organisations -------------------------------------------------------------------------------


def get_org(session: Session, *, slug: str) -> Organisation | None:
    return session.scalars(select(Organisation).where(Organisation.slug == slug)).first()


def require_org(session: Session, *, slug: str) -> Organisation:
    """Return the organisation with `slug`; raise NotFound."""
    org = get_org(session, slug=slug)
    if org is None:
        raise NotFound("ingen organisation med det korte navn {slug}", slug=slug)
    return org


def get_org_by_id(session: Session, *, org_id: int) -> Organisation | None:
    return session.get(Organisation, org_id)


def require_org_by_id(session: Session, *, org_id: int) -> Organisation:
    """Return the organisation with `org_id`; raise NotFound."""
    org = get_org_by_id(session, org_id=org_id)
    if org is None:
        raise NotFound("organisation {id} findes ikke", id=org_id)
    return org


def list_orgs(session: Session, *, kinds: tuple[str, ...] | None = None) -> list[Organisation]:
    query = select(Organisation).order_by(Organisation.name)
    if kinds:
        query = query.where(Organisation.kind.in_(kinds))
    return list(session.scalars(query))


def create_org(
    session: Session,
    *,
    slug: str,
    name: str,
    kind: str,
    country: str = "DK",
    accredited: bool = False,
    homepage: str | None = None,
    email: str | None = None,
) -> Organisation:
    """Create an organisation; raise Invalid for bad fields and Conflict for a taken slug."""
    errors = []
    if not _SLUG.match(slug or ""):
        errors.append({"field": "slug", "message": "use 3-80 lowercase letters, digits, hyphens"})
    if not (name or "").strip() or len(name) > 200:
        errors.append({"field": "name", "message": "give a name of 1-200 characters"})
    if kind not in ORG_KINDS:
        errors.append({"field": "kind", "message": f"must be one of {', '.join(ORG_KINDS)}"})
    if not _COUNTRY.match(country or ""):
        errors.append({"field": "country", "message": "use an ISO 3166 alpha-2 code, e.g. DK"})
    if errors:
        raise Invalid("organisationen er ikke gyldig", errors=errors)
    if get_org(session, slug=slug) is not None:
        raise Conflict("der findes allerede en organisation med det korte navn {slug}", slug=slug)
    org = Organisation(slug=slug, name=name.strip(), kind=kind, country=country,
                       accredited=accredited, homepage=homepage, email=email)
    session.add(org)
    session.flush()
    return org


# Staff users ---------------------------------------------------------------------------------


def get_user_by_sub(session: Session, *, sub: str) -> User | None:
    return session.scalars(select(User).where(User.sub == sub)).first()


def role_fits(role: str, org: Organisation) -> bool:
    """Whether a staff role makes sense in an organisation of this kind."""
    return {
        "company_member": org.kind == "company",
        "holder_admin": org.kind in ("national", "regional", "municipal", "test_host"),
        "reviewer": org.is_data_holder,
        "output_checker": org.is_data_holder,
        "host_member": org.kind in ("test_host", "regional", "municipal"),
        "secretariat": org.kind == "cluster",
        "steering_group": org.kind == "cluster",
        "operator": org.kind == "operator",
    }.get(role, False)


def add_user(session: Session, *, sub: str, email: str, org: Organisation, role: str,
             name: str = "") -> User:
    """Add a staff member; raise Invalid for a role that does not fit the organisation."""
    if role not in ROLES:
        raise Invalid.field("role", N_("skal være en af: {expected}"), expected=", ".join(ROLES))
    if not _EMAIL.match(email or ""):
        raise Invalid.field("email", N_("er ikke en e-mailadresse"))
    if not (sub or "").strip():
        raise Invalid.field("sub", N_("OIDC-subjektet skal udfyldes"))
    if not role_fits(role, org):
        raise Invalid.field(
            "role", N_("rollen {role} passer ikke til en organisation af typen {kind}"),
            role=role, kind=org.kind)
    if get_user_by_sub(session, sub=sub) is not None:
        raise Conflict("der findes allerede en bruger med subjektet {sub}", sub=sub)
    user = User(sub=sub, email=email, org=org, role=role, name=name or email)
    session.add(user)
    session.flush()
    return user


def sign_in_staff(session: Session, *, sub: str, claims: dict) -> User:
    """Recognise a staff member by subject; raise Forbidden for an unknown one."""
    user = get_user_by_sub(session, sub=sub)
    if user is None:
        raise Forbidden("kontoen er ikke medlem af nogen organisation på markedspladsen")
    if not user.is_active:
        raise Forbidden("kontoen er deaktiveret; kontakt platformens operatør")
    if claims.get("name"):
        user.name = str(claims["name"])[:200]
    user.last_sign_in_at = utcnow()
    return user


def staff_principal(user: User) -> Principal:
    return Principal(
        kind="staff", name=user.name or user.email, user_id=user.id, org_id=user.org_id,
        org_slug=user.org.slug, org_kind=user.org.kind, role=user.role,
        scopes=ROLE_SCOPES.get(user.role, frozenset()),
    )


# Citizens ------------------------------------------------------------------------------------


def get_citizen(session: Session, *, citizen_id: int) -> Citizen | None:
    return session.get(Citizen, citizen_id)


def require_citizen(session: Session, *, citizen_id: int) -> Citizen:
    """Return the citizen with `citizen_id`; raise NotFound."""
    citizen = get_citizen(session, citizen_id=citizen_id)
    if citizen is None:
        raise NotFound("borgeren findes ikke")
    return citizen


def find_citizen_by_cpr(session: Session, *, keyring: Keyring, cpr: str) -> Citizen | None:
    index = keyring.blind_index(cpr)
    return session.scalars(select(Citizen).where(Citizen.cpr_index == index)).first()


def register_citizen(session: Session, *, keyring: Keyring, cpr: str, name: str = "") -> Citizen:
    """Return the citizen with this CPR, creating them; raise Invalid for a malformed CPR."""
    try:
        digits = normalise_cpr(cpr)
    except ValueError as exc:
        raise Invalid.field("cpr", str(exc)) from exc
    citizen = find_citizen_by_cpr(session, keyring=keyring, cpr=digits)
    if citizen is None:
        citizen = Citizen(
            cpr_index=keyring.blind_index(digits),
            cpr_sealed=keyring.seal(digits.encode(), context="citizen-cpr"),
            name=name[:200],
            birth_date=birth_date(digits),
        )
        session.add(citizen)
        session.flush()
    elif name and citizen.name != name:
        citizen.name = name[:200]
    return citizen


def reveal_cpr(citizen: Citizen, *, keyring: Keyring) -> str:
    """Decrypt a citizen's CPR number (for the citizen's own masked display only)."""
    return keyring.open(citizen.cpr_sealed, context="citizen-cpr").decode()


def masked_cpr(citizen: Citizen, *, keyring: Keyring) -> str:
    """Return the citizen's CPR with the serial part hidden, for their own page only."""
    return mask_cpr(reveal_cpr(citizen, keyring=keyring))


def sign_in_citizen(session: Session, *, keyring: Keyring, cpr_claim: object, name: str) -> Citizen:
    """Recognise a citizen by the CPR claim; raise Unauthorized if it is missing or malformed."""
    if not isinstance(cpr_claim, str) or not cpr_claim:
        raise Unauthorized("login indeholdt intet CPR-nummer")
    try:
        citizen = register_citizen(session, keyring=keyring, cpr=cpr_claim, name=name)
    except Invalid as exc:
        # The message names the rule broken, never the number itself.
        raise Unauthorized("login indeholdt et CPR-nummer i forkert form") from exc
    citizen.last_sign_in_at = utcnow()
    return citizen


def citizen_principal(citizen: Citizen) -> Principal:
    return Principal(kind="citizen", name=citizen.name, citizen_id=citizen.id)


def count_citizens(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Citizen)) or 0


# API clients and tokens ----------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedClient:
    client: ApiClient
    secret: str


def _secret_hash(keyring: Keyring, secret: str) -> str:
    # Secrets are 256 random bits, so a keyed fast hash suffices; no password stretching needed.
    digest = hmac.new(keyring.derive("api-client-secret"), secret.encode(), hashlib.sha256)
    return "hmac-sha256$" + digest.hexdigest()


def parse_scopes(text: str) -> list[str]:
    """Split and check a space-separated scope list; raise Invalid for unknown scopes."""
    scopes = sorted(set((text or "").split()))
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown or not scopes:
        raise Invalid.field("scopes", N_("brug en eller flere af: {expected}"),
                            expected=", ".join(SCOPES))
    return scopes


def create_api_client(session: Session, *, keyring: Keyring, org: Organisation,
                      scopes: str) -> IssuedClient:
    """Create an API client for `org`; the clear secret is returned once and never stored."""
    scope_list = parse_scopes(scopes)
    refused = sorted(set(scope_list) - allowed_scopes(org))
    if refused:
        raise Invalid.field("scopes", N_("en organisation af typen {kind} kan ikke have "
                                         "{refused}"), kind=org.kind, refused=", ".join(refused))
    secret = secrets.token_urlsafe(32)
    client = ApiClient(client_id="mkt_" + secrets.token_hex(12), org=org,
                       secret_hash=_secret_hash(keyring, secret), scopes=" ".join(scope_list))
    session.add(client)
    session.flush()
    return IssuedClient(client=client, secret=secret)


def allowed_scopes(org: Organisation) -> set[str]:
    """The scopes an API client of this organisation may hold."""
    allowed = {
        "catalog:write": org.is_data_holder or org.kind == "operator",
        "access:review": org.is_data_holder or org.kind == "operator",
        "access:request": org.kind in ("company", "operator", "national", "regional",
                                       "municipal"),
        "workspace:run": org.kind == "company",
        "output:check": org.is_data_holder,
        "statistics:request": org.kind in ("company", "cluster", "operator", "national",
                                           "regional", "municipal"),
        "growth:write": org.kind in ("company", "cluster", "test_host", "national", "regional",
                                     "municipal"),
        "platform:admin": org.kind == "operator",
    }
    return {scope for scope, ok in allowed.items() if ok}


def get_api_client(session: Session, *, client_id: str) -> ApiClient | None:
    """The usable client with this id: neither revoked nor of a deactivated organisation."""
    client = session.scalars(
        select(ApiClient).where(ApiClient.client_id == client_id, ApiClient.revoked_at.is_(None))
    ).first()
    return client if client is not None and client.org.is_active else None


def check_client_secret(client: ApiClient, *, keyring: Keyring, secret: str) -> bool:
    return hmac.compare_digest(client.secret_hash, _secret_hash(keyring, secret))


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def store_token(session: Session, *, client: ApiClient, access_token: str, scopes: str,
                expires_in: int) -> ApiToken:
    now = utcnow()
    token = ApiToken(token_hash=_token_hash(access_token), client=client, scopes=scopes,
                     issued_at=now, expires_at=now + timedelta(seconds=expires_in))
    session.add(token)
    session.flush()
    return token


# One round trip on the driver, its statement built once: every API request asks this before
# anything else. The organisation's columns become its object (the request may need it again).
_TOKEN = DriverStatement(
    select(*Organisation.__table__.c, ApiToken.scopes, ApiToken.expires_at, ApiToken.revoked,
           ApiClient.id.label("client_id"), ApiClient.revoked_at.label("client_revoked_at"))
    .join(ApiClient, ApiClient.id == ApiToken.client_id)
    .join(Organisation, Organisation.id == ApiClient.org_id)
    .where(ApiToken.token_hash == bindparam("token_hash")))


def authenticate_token(session: Session, *, access_token: str, now: datetime) -> Principal:
    """Return the principal of a bearer token; raise Unauthorized if unknown or expired."""
    found = column_rows(session, _TOKEN, {"token_hash": _token_hash(access_token)})
    token = found[0] if found else None
    if (token is None or token.revoked or token.client_revoked_at is not None
            or token.deactivated_at is not None):
        raise Unauthorized("adgangstokenet er ikke gyldigt",
                           headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    if token.expires_at <= now:
        raise Unauthorized("adgangstokenet er udløbet",
                           headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    org = adopt(session, Organisation, token._asdict())
    # The session's identity map holds its objects weakly: kept here, the caller's
    # organisation is found again by id without a query for the rest of the request.
    session.info["caller"] = org
    return Principal(
        kind="client", name=org.name, client_id=token.client_id, org_id=org.id,
        org_slug=org.slug, org_kind=org.kind, role="operator" if org.kind == "operator" else None,
        scopes=frozenset(token.scopes.split()),
    )


# The operator's administration ---------------------------------------------------------------


def require_operator(actor: Principal) -> None:
    """Raise Forbidden unless the actor is the platform operator."""
    if not actor.is_operator:
        raise Forbidden("kun platformens operatør må gøre dette")


def list_orgs_for_operator(session: Session, *, actor: Principal) -> list[Organisation]:
    """Every organisation, by name; raise Forbidden unless the operator."""
    require_operator(actor)
    return list_orgs(session)


def list_users(session: Session, *, actor: Principal, org_id: int | None = None) -> list[User]:
    """Every staff member (of one organisation when named), by organisation and name."""
    require_operator(actor)
    query = select(User).join(Organisation).order_by(Organisation.name, User.name, User.id)
    if org_id is not None:
        query = query.where(User.org_id == org_id)
    return list(session.scalars(query))


def require_user(session: Session, *, user_id: int) -> User:
    """Return the staff member; raise NotFound."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("brugeren findes ikke")
    return user


def _taken(field: str, message: str) -> Conflict:
    # A Conflict (409) that still names the field, so a form can show it beside the field.
    return Conflict(message, errors=[{"field": field, "message": message}])


def create_org_as_operator(session: Session, *, actor: Principal, slug: str, name: str,
                           kind: str, country: str = "DK", accredited: bool = False
                           ) -> Organisation:
    """Create an organisation for the operator, audited; raise Forbidden, Invalid, Conflict."""
    require_operator(actor)
    if get_org(session, slug=slug) is not None:
        raise _taken("slug", "der findes allerede en organisation med den kortform")
    org = create_org(session, slug=slug, name=name, kind=kind, country=country,
                     accredited=accredited)
    audit.record_audit(session, actor=actor, action="organisation.created",
                       subject_type="organisation", subject_id=str(org.id),
                       details={"slug": org.slug, "kind": org.kind})
    return org


def add_user_as_operator(session: Session, *, actor: Principal, sub: str, email: str,
                         org_id: int, role: str, name: str = "") -> User:
    """Add a staff member for the operator, audited; raise Forbidden, NotFound, Invalid,
    Conflict (a deactivated organisation takes no new members)."""
    require_operator(actor)
    org = require_org_by_id(session, org_id=org_id)
    if not org.is_active:
        raise Conflict("organisationen er deaktiveret")
    if not role_fits(role, org):
        raise Invalid.field("role", "rollen passer ikke til organisationens type")
    if get_user_by_sub(session, sub=sub) is not None:
        raise _taken("sub", "der findes allerede en bruger med det login-id")
    user = add_user(session, sub=sub, email=email, org=org, role=role, name=name)
    audit.record_audit(session, actor=actor, action="user.created", subject_type="user",
                       subject_id=str(user.id), details={"org": org.slug, "role": role})
    return user


def _end_sign_ins(session: Session, *, user_ids: list[int]) -> None:
    # The cookie of a live sign-in would otherwise keep working until it expires.
    if not user_ids:
        return
    for sign_in in session.scalars(select(SignIn).where(
            SignIn.kind == "staff", SignIn.subject_id.in_(user_ids), SignIn.ended_at.is_(None))):
        sign_in.ended_at = utcnow()


def change_role(session: Session, *, actor: Principal, user_id: int, role: str) -> User:
    """Give a staff member another role that fits their organisation, audited.

    Raises Forbidden (not the operator, or the operator's own role: nobody locks the platform
    out by accident), NotFound, Invalid (unknown role or one that does not fit), Conflict
    (deactivated user).
    """
    require_operator(actor)
    user = require_user(session, user_id=user_id)
    if user.id == actor.user_id:
        raise Forbidden("du kan ikke ændre din egen rolle")
    if not role_fits(role, user.org):
        raise Invalid.field("role", "rollen passer ikke til organisationens type")
    if not user.is_active:
        raise Conflict("brugeren er deaktiveret")
    previous, user.role = user.role, role
    # The new role's rights apply from the next sign-in; live ones end now.
    _end_sign_ins(session, user_ids=[user.id])
    audit.record_audit(session, actor=actor, action="user.role_changed", subject_type="user",
                       subject_id=str(user.id), details={"from": previous, "to": role})
    return user


def deactivate_user(session: Session, *, actor: Principal, user_id: int) -> User:
    """Stop a staff member signing in, ending their live sign-ins, audited.

    Raises Forbidden (not the operator, or themselves), NotFound, Conflict (already done).
    """
    require_operator(actor)
    user = require_user(session, user_id=user_id)
    if user.id == actor.user_id:
        raise Forbidden("du kan ikke deaktivere dig selv")
    if user.deactivated_at is not None:
        raise Conflict("brugeren er allerede deaktiveret")
    user.deactivated_at = utcnow()
    _end_sign_ins(session, user_ids=[user.id])
    audit.record_audit(session, actor=actor, action="user.deactivated", subject_type="user",
                       subject_id=str(user.id), details={"org": user.org.slug})
    return user


def deactivate_org(session: Session, *, actor: Principal, org_id: int) -> Organisation:
    """Stop an organisation's staff signing in and its API clients' tokens, audited.

    Raises Forbidden (not the operator, or the operator's own organisation), NotFound,
    Conflict (already done).
    """
    require_operator(actor)
    org = require_org_by_id(session, org_id=org_id)
    if org.id == actor.org_id:
        raise Forbidden("du kan ikke deaktivere din egen organisation")
    if org.deactivated_at is not None:
        raise Conflict("organisationen er allerede deaktiveret")
    org.deactivated_at = utcnow()
    _end_sign_ins(session, user_ids=[user.id for user in org.users])
    _revoke_tokens(session, client_ids=list(session.scalars(
        select(ApiClient.id).where(ApiClient.org_id == org.id))))
    audit.record_audit(session, actor=actor, action="organisation.deactivated",
                       subject_type="organisation", subject_id=str(org.id),
                       details={"slug": org.slug})
    return org


def list_api_clients(session: Session, *, actor: Principal) -> list[ApiClient]:
    """Every API client, newest first; raise Forbidden unless the operator."""
    require_operator(actor)
    return list(session.scalars(select(ApiClient).order_by(ApiClient.id.desc())))


def require_api_client(session: Session, *, client_id: int) -> ApiClient:
    """Return the API client by its number; raise NotFound."""
    client = session.get(ApiClient, client_id)
    if client is None:
        raise NotFound("API-klienten findes ikke")
    return client


def create_api_client_as_operator(session: Session, *, actor: Principal, keyring: Keyring,
                                  org_id: int, scopes: list[str]) -> IssuedClient:
    """Create an API client for an organisation, audited; the secret is returned once.

    Raises Forbidden, NotFound, Invalid (scopes the organisation cannot hold), Conflict
    (deactivated organisation).
    """
    require_operator(actor)
    org = require_org_by_id(session, org_id=org_id)
    if not org.is_active:
        raise Conflict("organisationen er deaktiveret")
    if not scopes or set(scopes) - allowed_scopes(org):
        raise Invalid.field("scopes", "organisationens type kan ikke få et af de valgte scopes")
    issued = create_api_client(session, keyring=keyring, org=org, scopes=" ".join(scopes))
    audit.record_audit(session, actor=actor, action="api_client.created",
                       subject_type="api_client", subject_id=str(issued.client.id),
                       details={"org": org.slug, "scopes": issued.client.scope_list})
    return issued


def _revoke_tokens(session: Session, *, client_ids: list[int]) -> None:
    if client_ids:
        session.execute(sa_update(ApiToken).where(ApiToken.client_id.in_(client_ids))
                        .values(revoked=True))


def _require_live_client(session: Session, *, actor: Principal, client_id: int) -> ApiClient:
    require_operator(actor)
    client = require_api_client(session, client_id=client_id)
    if client.revoked_at is not None:
        raise Conflict("API-klienten er tilbagekaldt")
    return client


def rotate_client_secret(session: Session, *, actor: Principal, keyring: Keyring,
                         client_id: int) -> IssuedClient:
    """Give an API client a new secret; the old one and its tokens stop working at once.

    Audited. Raises Forbidden, NotFound, Conflict (revoked client).
    """
    client = _require_live_client(session, actor=actor, client_id=client_id)
    secret = secrets.token_urlsafe(32)
    client.secret_hash = _secret_hash(keyring, secret)
    _revoke_tokens(session, client_ids=[client.id])
    audit.record_audit(session, actor=actor, action="api_client.secret_rotated",
                       subject_type="api_client", subject_id=str(client.id),
                       details={"org": client.org.slug})
    return IssuedClient(client=client, secret=secret)


def revoke_api_client(session: Session, *, actor: Principal, client_id: int) -> ApiClient:
    """Revoke an API client: its secret and every token stop working at once. Audited.

    Raises Forbidden, NotFound, Conflict (already revoked).
    """
    client = _require_live_client(session, actor=actor, client_id=client_id)
    client.revoked_at = utcnow()
    _revoke_tokens(session, client_ids=[client.id])
    audit.record_audit(session, actor=actor, action="api_client.revoked",
                       subject_type="api_client", subject_id=str(client.id),
                       details={"org": client.org.slug})
    return client
