"""Organisations, staff, citizens and API clients: the rules of who is who."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from marketplace.cpr import birth_date, mask_cpr, normalise_cpr
from marketplace.db import utcnow
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from marketplace.identity.models import (
    ORG_KINDS,
    ROLES,
    SCOPES,
    ApiClient,
    ApiToken,
    Citizen,
    Organisation,
    User,
)
from marketplace.identity.principal import ROLE_SCOPES, Principal
from marketplace.languages import N_
from marketplace.security import Keyring

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


def add_user(session: Session, *, sub: str, email: str, org: Organisation, role: str,
             name: str = "") -> User:
    """Add a staff member; raise Invalid for a role that does not fit the organisation."""
    if role not in ROLES:
        raise Invalid.field("role", N_("skal være en af: {expected}"), expected=", ".join(ROLES))
    if not _EMAIL.match(email or ""):
        raise Invalid.field("email", N_("er ikke en e-mailadresse"))
    if not (sub or "").strip():
        raise Invalid.field("sub", N_("OIDC-subjektet skal udfyldes"))
    fits = {
        "company_member": org.kind == "company",
        "holder_admin": org.kind in ("national", "regional", "municipal", "test_host"),
        "reviewer": org.is_data_holder,
        "output_checker": org.is_data_holder,
        "host_member": org.kind in ("test_host", "regional", "municipal"),
        "secretariat": org.kind == "cluster",
        "steering_group": org.kind == "cluster",
        "operator": org.kind == "operator",
    }[role]
    if not fits:
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
    }
    refused = [s for s in scope_list if not allowed[s]]
    if refused:
        raise Invalid.field("scopes", N_("en organisation af typen {kind} kan ikke have "
                                         "{refused}"), kind=org.kind, refused=", ".join(refused))
    secret = secrets.token_urlsafe(32)
    client = ApiClient(client_id="mkt_" + secrets.token_hex(12), org=org,
                       secret_hash=_secret_hash(keyring, secret), scopes=" ".join(scope_list))
    session.add(client)
    session.flush()
    return IssuedClient(client=client, secret=secret)


def get_api_client(session: Session, *, client_id: str) -> ApiClient | None:
    return session.scalars(
        select(ApiClient).where(ApiClient.client_id == client_id, ApiClient.revoked_at.is_(None))
    ).first()


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


def authenticate_token(session: Session, *, access_token: str, now: datetime) -> Principal:
    """Return the principal of a bearer token; raise Unauthorized if unknown or expired."""
    # One round trip: every API request asks this before anything else.
    token = session.scalars(
        select(ApiToken).where(ApiToken.token_hash == _token_hash(access_token))
        .options(joinedload(ApiToken.client).joinedload(ApiClient.org))
    ).first()
    if token is None or token.revoked or token.client.revoked_at is not None:
        raise Unauthorized("adgangstokenet er ikke gyldigt",
                           headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    if token.expires_at <= now:
        raise Unauthorized("adgangstokenet er udløbet",
                           headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    org = token.client.org
    # The session's identity map holds its objects weakly: kept here, the caller's
    # organisation is found again by id without a query for the rest of the request.
    session.info["caller"] = token
    return Principal(
        kind="client", name=org.name, client_id=token.client.id, org_id=org.id,
        org_slug=org.slug, org_kind=org.kind, role="operator" if org.kind == "operator" else None,
        scopes=frozenset(token.scopes.split()),
    )
