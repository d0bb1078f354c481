"""What the console's API reads and answers; the pages validate their forms with the same
models."""
from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)
from pydantic_core import PydanticCustomError

from marketplace.delivery.extracts import EXTRACT_STATES
from marketplace.identity.models import ORG_KINDS, ROLES, SCOPES
from marketplace.web.api import Body, FreeText, Id, Out, PageQuery
from marketplace.web.requests import QueryModel
from marketplace.workspace.services import JOB_STATES

Slug = Annotated[str, StringConstraints(strip_whitespace=True,
                                        pattern=r"^[a-z0-9][a-z0-9-]{1,78}[a-z0-9]$")]
"""An organisation's short name: 3-80 lowercase letters, digits and hyphens."""


def one_of(values: tuple[str, ...]) -> Any:
    """A code that must be one of `values` (named in the message and in the schema's enum)."""

    def check(value: str) -> str:
        if value not in values:
            raise PydanticCustomError("literal_error", "skal være en af: {expected}",
                                      {"expected": ", ".join(values)})
        return value

    return Annotated[str, AfterValidator(check), Field(json_schema_extra={"enum": list(values)})]


SearchText = Annotated[str | None, StringConstraints(strip_whitespace=True, max_length=80,
                                                     pattern=r"^[^\x00]*$")]


class OrganisationIn(Body):
    slug: Slug
    name: FreeText(200, min_length=1)  # type: ignore[valid-type]
    kind: one_of(ORG_KINDS)  # type: ignore[valid-type]
    country: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z]{2}$"),
                       AfterValidator(str.upper)] = "DK"
    accredited: bool = Field(False, strict=True)


class UserIn(Body):
    sub: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200,
                                          pattern=r"^[^\x00-\x1f]+$")]
    email: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200,
                                            pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
    name: FreeText(200) = ""  # type: ignore[valid-type]
    org: Slug
    role: one_of(ROLES)  # type: ignore[valid-type]


class RoleIn(Body):
    role: one_of(ROLES)  # type: ignore[valid-type]


class ApiClientIn(Body):
    org: Slug
    scopes: list[one_of(SCOPES)] = Field(min_length=1, max_length=len(SCOPES))  # type: ignore[valid-type]


class NoticeIn(Body):
    version: Annotated[str, StringConstraints(strip_whitespace=True,
                                              pattern=r"^[0-9A-Za-z][0-9A-Za-z.\-]{0,31}$")]
    summary: FreeText(4000, min_length=1)  # type: ignore[valid-type]


class UserPath(BaseModel):
    user_id: Id


class OrganisationPath(BaseModel):
    org_id: Id


class ClientPath(BaseModel):
    client_id: Id


class QueuedExtractPath(BaseModel):
    extract_id: Id


class QueuedJobPath(BaseModel):
    job_id: Id


class UsersQuery(QueryModel):
    model_config = ConfigDict(extra="ignore")
    org: Slug | None = None


class SearchQuery(PageQuery):
    """A search form's query: a field left empty means "any", as a person filling it means."""

    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _empty_is_absent(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value != ""}
        return data


class AuditQuery(SearchQuery):
    """Search the audit log: event and actor match part of the text, subject exactly; the
    dates are whole days (Copenhagen's calendar is close enough for a search: UTC days)."""

    action: SearchText = None
    actor: SearchText = None
    subject_type: SearchText = None
    subject_id: SearchText = None
    since: date | None = None
    until: date | None = None
    per_page: int = Field(50, ge=1, le=200)


class QueueQuery(SearchQuery):
    status: one_of(tuple(dict.fromkeys(EXTRACT_STATES + JOB_STATES))) | None = None  # type: ignore[valid-type]
    per_page: int = Field(25, ge=1, le=200)


class QueuePageQuery(QueueQuery):
    """The console page shows one queue at a time."""

    queue: one_of(("extracts", "workspace")) = "extracts"  # type: ignore[valid-type]


# --- answers ----------------------------------------------------------------------------------

class OrganisationOut(Out):
    id: int
    slug: str
    name: str
    kind: str
    country: str
    accredited: bool
    active: bool
    users: int


class OrganisationList(Out):
    items: list[OrganisationOut]


class UserOut(Out):
    id: int
    sub: str
    email: str
    name: str
    org: str
    role: str
    active: bool
    last_sign_in_at: datetime | None


class UserList(Out):
    items: list[UserOut]


class ApiClientOut(Out):
    id: int
    client_id: str
    org: str
    scopes: list[str]
    created_at: datetime
    revoked_at: datetime | None


class ApiClientList(Out):
    items: list[ApiClientOut]


class IssuedSecretOut(ApiClientOut):
    """The client with its secret: shown this once, stored only as a keyed hash."""

    client_secret: str


class AuditEntryOut(Out):
    id: int
    at: datetime
    actor: str
    action: str
    subject_type: str
    subject_id: str
    details: dict[str, Any]


class AuditPage(Out):
    items: list[AuditEntryOut]
    total: int
    page: int
    per_page: int


class AuditCheckOut(Out):
    ok: bool
    checked: int
    first_broken_id: int | None
    reason: str | None
    head: str | None
    # Committed entries not yet sealed into the chain (included in `checked`).
    waiting: int = 0


class QueueEntryOut(Out):
    queue: str
    id: int
    permit_id: int
    company: str
    status: str
    attempts: int
    created_at: datetime
    age_seconds: int
    error: str | None


class QueuePage(Out):
    items: list[QueueEntryOut]
    total: int
    page: int
    per_page: int


class NoticeOut(Out):
    version: str
    summary: str | None
    published_at: datetime | None
    published_by: str | None


class NoticeState(Out):
    current: NoticeOut
    history: list[NoticeOut]
