"""Who is acting: a citizen, a staff member, an API client or nobody."""

from __future__ import annotations

from dataclasses import dataclass, field

ROLE_SCOPES: dict[str, frozenset[str]] = {
    "holder_admin": frozenset({"catalog:write", "access:review", "statistics:request",
                               "growth:write"}),
    "reviewer": frozenset({"access:review"}),
    "output_checker": frozenset({"output:check"}),
    "company_member": frozenset({"access:request", "workspace:run", "statistics:request",
                                 "growth:write"}),
    "host_member": frozenset({"growth:write"}),
    "secretariat": frozenset({"growth:write", "statistics:request"}),
    "steering_group": frozenset({"growth:write"}),
    "operator": frozenset({"catalog:write", "access:request", "access:review",
                           "platform:admin"}),
}


@dataclass(frozen=True)
class Principal:
    kind: str  # "citizen" | "staff" | "client" | "anonymous"
    name: str = ""
    user_id: int | None = None
    citizen_id: int | None = None
    client_id: int | None = None
    org_id: int | None = None
    org_slug: str | None = None
    org_kind: str | None = None
    role: str | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_authenticated(self) -> bool:
        return self.kind != "anonymous"

    @property
    def is_operator(self) -> bool:
        return self.role == "operator" or self.org_kind == "operator"

    @property
    def is_citizen(self) -> bool:
        return self.kind == "citizen"

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    def belongs_to(self, org_id: int | None) -> bool:
        return org_id is not None and self.org_id == org_id


ANONYMOUS = Principal(kind="anonymous")
