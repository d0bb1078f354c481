"""Organisations, staff users, citizens and API clients."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.db import Base, UTCDateTime, created_at, intpk, utcnow

ORG_KINDS = ("national", "regional", "municipal", "company", "test_host", "operator", "cluster")
DATA_HOLDER_KINDS = ("national", "regional", "municipal")
ROLES = ("holder_admin", "reviewer", "output_checker", "company_member", "host_member",
         "secretariat", "steering_group", "operator")
SCOPE_LABELS = {
    "catalog:write": "publish datasets and data versions",
    "access:request": "apply for data access",
    "access:review": "review applications for the holder's datasets",
    "workspace:run": "run analysis jobs in a permit's secure processing environment",
    "output:check": "check and release outputs of the holder's permits",
    "statistics:request": "request anonymous statistics (EHDS Art. 69)",
    "growth:write": "register opportunities and clinical projects in the growth pipeline",
    "platform:admin": "run the platform: organisations, users, API clients, audit log, job "
                      "queues and the consent notice (the operator only)",
}
SCOPES = tuple(SCOPE_LABELS)


class Organisation(Base):
    __tablename__ = "organisation"

    id: Mapped[intpk]
    slug: Mapped[str] = mapped_column(sa.String(80), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[str] = mapped_column(sa.String(20))
    country: Mapped[str] = mapped_column(sa.String(2), default="DK")
    accredited: Mapped[bool] = mapped_column(default=False)
    homepage: Mapped[str | None] = mapped_column(sa.String(300))
    email: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[created_at]
    # A deactivated organisation's staff cannot sign in and its API clients get no tokens.
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    users: Mapped[list[User]] = relationship(back_populates="org")

    @property
    def level(self) -> str | None:
        """Publisher level of a data holder: national, regional or municipal."""
        return self.kind if self.kind in DATA_HOLDER_KINDS else None

    @property
    def is_data_holder(self) -> bool:
        return self.kind in DATA_HOLDER_KINDS

    @property
    def is_foreign(self) -> bool:
        return self.country != "DK"

    @property
    def is_active(self) -> bool:
        return self.deactivated_at is None


class User(Base):
    """A staff member of an organisation, recognised by the OIDC subject."""

    __tablename__ = "app_user"

    id: Mapped[intpk]
    sub: Mapped[str] = mapped_column(sa.String(200), unique=True)
    email: Mapped[str] = mapped_column(sa.String(200))
    name: Mapped[str] = mapped_column(sa.String(200), default="")
    org_id: Mapped[int] = mapped_column(sa.ForeignKey("organisation.id"), index=True)
    role: Mapped[str] = mapped_column(sa.String(20))
    created_at: Mapped[created_at]
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Staff are deactivated, never deleted: the audit chain names them.
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    org: Mapped[Organisation] = relationship(back_populates="users")

    @property
    def is_active(self) -> bool:
        return self.deactivated_at is None and self.org.is_active


class Citizen(Base):
    """A person whose data may be held; the CPR is kept only as blind index and ciphertext."""

    __tablename__ = "citizen"

    id: Mapped[intpk]
    cpr_index: Mapped[str] = mapped_column(sa.String(64), unique=True)
    cpr_sealed: Mapped[bytes] = mapped_column(sa.LargeBinary)
    name: Mapped[str] = mapped_column(sa.String(200), default="")
    birth_date: Mapped[date] = mapped_column(sa.Date)
    created_at: Mapped[created_at]
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ApiClient(Base):
    """An organisation's system calling the API with OAuth2 client credentials."""

    __tablename__ = "api_client"

    id: Mapped[intpk]
    client_id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    secret_hash: Mapped[str] = mapped_column(sa.String(200))
    org_id: Mapped[int] = mapped_column(sa.ForeignKey("organisation.id"), index=True)
    scopes: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[created_at]
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    org: Mapped[Organisation] = relationship()

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()


class ApiToken(Base):
    """An issued bearer token; only its SHA-256 is stored."""

    __tablename__ = "api_token"

    id: Mapped[intpk]
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    client_id: Mapped[int] = mapped_column(sa.ForeignKey("api_client.id"), index=True)
    scopes: Mapped[str] = mapped_column(sa.String(200))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked: Mapped[bool] = mapped_column(default=False)

    client: Mapped[ApiClient] = relationship()


class SignIn(Base):
    """One browser sign-in; the cookie carries only its random id."""

    __tablename__ = "sign_in"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(10))
    subject_id: Mapped[int]
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
