"""Organisations, users, citizens and API clients."""

import pytest
from sqlalchemy import select

from marketplace.errors import Conflict, Forbidden, Invalid, Unauthorized
from marketplace.identity import services
from marketplace.identity.models import Citizen


def test_create_org_validates_and_refuses_duplicates(session) -> None:
    org = services.create_org(session, slug="herlev-test", name="Herlev", kind="regional")
    assert org.level == "regional" and org.is_data_holder
    with pytest.raises(Conflict):
        services.create_org(session, slug="herlev-test", name="Again", kind="regional")
    with pytest.raises(Invalid) as info:
        services.create_org(session, slug="Bad Slug!", name="", kind="planet", country="dk")
    fields = {e["field"] for e in info.value.errors}
    assert fields == {"slug", "name", "kind", "country"}


def test_company_is_not_a_data_holder(make_org) -> None:
    company = make_org(kind="company", country="DE")
    assert company.level is None and company.is_foreign


def test_roles_must_fit_the_organisation(session, make_org) -> None:
    company = make_org(kind="company")
    with pytest.raises(Invalid):
        services.add_user(session, sub="x", email="x@y.dk", org=company, role="reviewer")
    user = services.add_user(session, sub="x", email="x@y.dk", org=company,
                             role="company_member")
    with pytest.raises(Conflict):
        services.add_user(session, sub="x", email="z@y.dk", org=company, role="company_member")
    assert services.staff_principal(user).has_scope("access:request")


def test_citizen_is_stored_without_clear_cpr(session, keyring) -> None:
    citizen = services.register_citizen(session, keyring=keyring, cpr="070385-1234",
                                        name="Mette")
    session.flush()
    row = session.execute(select(Citizen.cpr_index, Citizen.cpr_sealed)).first()
    assert b"0703851234" not in row.cpr_sealed and "0703851234" not in row.cpr_index
    assert services.reveal_cpr(citizen, keyring=keyring) == "0703851234"
    again = services.register_citizen(session, keyring=keyring, cpr="0703851234", name="Mette")
    assert again.id == citizen.id


@pytest.mark.parametrize("claim", [None, "", 703851234, "0703851", "3102851234", "<script>"])
def test_malformed_cpr_claims_are_refused(session, keyring, claim) -> None:
    before = services.count_citizens(session)
    with pytest.raises(Unauthorized) as info:
        services.sign_in_citizen(session, keyring=keyring, cpr_claim=claim, name="X")
    assert services.count_citizens(session) == before
    assert "3102851234" not in info.value.detail


def test_unknown_staff_cannot_sign_in(session) -> None:
    with pytest.raises(Forbidden):
        services.sign_in_staff(session, sub="stranger", claims={})


def test_api_client_scopes_fit_the_organisation(session, keyring, make_org) -> None:
    company = make_org(kind="company")
    with pytest.raises(Invalid):
        services.create_api_client(session, keyring=keyring, org=company, scopes="catalog:write")
    with pytest.raises(Invalid):
        services.create_api_client(session, keyring=keyring, org=company, scopes="root")
    issued = services.create_api_client(session, keyring=keyring, org=company,
                                        scopes="access:request")
    assert issued.secret not in issued.client.secret_hash
    assert services.check_client_secret(issued.client, keyring=keyring, secret=issued.secret)
    assert not services.check_client_secret(issued.client, keyring=keyring, secret="wrong")
