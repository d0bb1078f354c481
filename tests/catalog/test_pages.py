"""The data holder's pages: create with the column dictionary, upload, publish, retire."""
from __future__ import annotations

import io

import sqlalchemy as sa

from marketplace.catalog.models import Dataset
from tests.catalog.conftest import GOOD_CSV


def _csrf(client) -> str:
    return client.get("/api/v1/me").get_json()["csrf_token"]


def _form(csrf: str, **changes) -> dict:
    form = {
        "csrf_token": csrf, "title": "Faldulykker", "description": "Fald blandt ældre.",
        "keywords": "fald, ældre", "themes": ["HEAL"], "health_categories": ["CARE"],
        "access_rights": "RESTRICTED", "legal_basis": "GDPR art. 9(2)(j)",
        "consent_model": "opt_out", "k_min": "5", "duo_permission": "HMB",
        "duo_modifiers": ["NCU"], "subject_column": "cpr",
        "col-0-name": "cpr", "col-0-type": "string", "col-0-role": "direct_identifier",
        "col-0-identifier_kind": "cpr", "col-0-required": "1",
        "col-1-name": "birth_date", "col-1-type": "date", "col-1-role": "quasi_identifier",
        "col-1-concept": "birth_date", "col-1-generalise": "date:year",
        "col-1-minimum": "1900-01-01", "col-1-shareable": "1",
        "col-2-name": "sex", "col-2-type": "category", "col-2-role": "quasi_identifier",
        "col-2-code_system": "sex", "col-2-shareable": "1",
        "col-3-name": "admitted", "col-3-type": "date", "col-3-role": "quasi_identifier",
        "col-3-concept": "event_date", "col-3-shareable": "1",
        "col-4-name": "diagnosis", "col-4-type": "string", "col-4-role": "sensitive",
        "col-4-code_system": "icd10", "col-4-shareable": "1",
        "col-5-name": "days", "col-5-type": "integer", "col-5-role": "attribute",
        "col-5-minimum": "0", "col-5-maximum": "365", "col-5-shareable": "1",
        "col-6-name": "",
    }
    return form | changes


def _signed_in_holder(client, login, make_user, holder):
    login(make_user(holder))
    return _csrf(client)


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get("/catalog/new")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


def test_holder_creates_uploads_and_publishes_in_the_browser(client, session, login, make_user,
                                                              holder):
    csrf = _signed_in_holder(client, login, make_user, holder)
    page = client.get("/catalog/new")
    assert page.status_code == 200 and 'name="col-0-name"' in page.get_data(as_text=True)

    created = client.post("/catalog/new", data=_form(csrf))
    assert created.status_code == 302, created.get_data(as_text=True)
    dataset = session.scalars(sa.select(Dataset).where(Dataset.title == "Faldulykker")).one()
    assert dataset.columns[1]["generalise"] == {"kind": "date", "to": "year"}
    assert dataset.columns[5]["maximum"] == 365
    assert dataset.data_use == {"permission": "HMB", "diseases": [], "modifiers": ["NCU"]}

    uploaded = client.post(f"/catalog/{dataset.id}/upload", data={
        "csrf_token": csrf, "file": (io.BytesIO(GOOD_CSV.encode()), "data.csv")},
        content_type="multipart/form-data")
    assert uploaded.status_code == 302
    assert "/quality" in uploaded.headers["Location"]
    report = client.get(uploaded.headers["Location"]).get_data(as_text=True)
    assert "Versionen bestod alle forventninger." in report

    published = client.post(f"/catalog/{dataset.id}/publish", data={"csrf_token": csrf},
                            follow_redirects=True)
    assert "Datasættet er udgivet i kataloget." in published.get_data(as_text=True)
    session.refresh(dataset)
    assert dataset.status == "published"

    edit = client.get(f"/catalog/{dataset.id}/edit").get_data(as_text=True)
    assert 'value="Faldulykker"' in edit

    retired = client.post(f"/catalog/{dataset.id}/retire", data={"csrf_token": csrf})
    assert retired.status_code == 302
    session.refresh(dataset)
    assert dataset.status == "retired"


def test_form_errors_are_shown_and_nothing_is_stored(client, session, login, make_user, holder):
    csrf = _signed_in_holder(client, login, make_user, holder)
    response = client.post("/catalog/new", data=_form(
        csrf, title="", **{"col-5-minimum": "400", "duo_permission": "DS"}))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "columns[5].minimum" in html and "data_use.diseases" in html and "title" in html
    assert session.scalar(sa.select(sa.func.count()).select_from(Dataset)) == 0


def test_form_errors_stand_beside_their_fields_in_danish(client, login, make_user, holder):
    csrf = _signed_in_holder(client, login, make_user, holder)
    response = client.post("/catalog/new", data=_form(
        csrf, title="", **{"col-5-minimum": "400", "duo_permission": "DS", "k_min": "1"}))
    html = response.get_data(as_text=True)
    assert '<p class="field-error" id="title-error">skal udfyldes</p>' in html
    assert ('<p class="field-error" id="col-5-minimum-error">minimum er større end maksimum</p>'
            in html)
    assert 'id="duo_diseases-error">DS (sygdomsspecifik) kræver mindst én sygdom' in html
    assert 'id="k_min-error">skal være mindst 2' in html
    assert 'aria-describedby="k_min-hint k_min-error" aria-invalid="true"' in html


def test_forms_need_the_csrf_token(client, session, login, make_user, holder):
    _signed_in_holder(client, login, make_user, holder)
    response = client.post("/catalog/new", data=_form(""))
    assert response.status_code == 403
    assert session.scalar(sa.select(sa.func.count()).select_from(Dataset)) == 0


def test_another_holder_cannot_open_the_edit_page(client, login, make_user, make_org, holder,
                                                  published):
    dataset = published()
    other = make_org(kind="municipal")
    login(make_user(other))
    csrf = _csrf(client)
    assert client.get(f"/catalog/{dataset['id']}/edit").status_code == 403
    assert client.post(f"/catalog/{dataset['id']}/retire",
                       data={"csrf_token": csrf}).status_code == 403
    page = client.get(f"/catalog/{dataset['id']}").get_data(as_text=True)
    assert "Rediger beskrivelse" not in page


def test_publishing_without_data_explains_why(client, login, make_user, holder, create):
    dataset = create()
    csrf = _signed_in_holder(client, login, make_user, holder)
    response = client.post(f"/catalog/{dataset['id']}/publish", data={"csrf_token": csrf},
                           follow_redirects=True)
    assert "Upload en dataversion, der består valideringen" in response.get_data(as_text=True)


def test_holder_sees_own_datasets_with_drafts(client, login, make_user, holder, create):
    create(title="Min kladde")
    _signed_in_holder(client, login, make_user, holder)
    html = client.get("/catalog/mine").get_data(as_text=True)
    assert "Min kladde" in html and "Kladde" in html


def test_session_json_upload_needs_csrf_header(client, login, make_user, holder, create):
    dataset = create()
    csrf = _signed_in_holder(client, login, make_user, holder)
    url = f"/api/v1/datasets/{dataset['id']}/data"
    refused = client.put(url, data=GOOD_CSV, content_type="text/csv")
    assert refused.status_code == 403
    accepted = client.put(url, data=GOOD_CSV, content_type="text/csv",
                          headers={"X-CSRF-Token": csrf})
    assert accepted.status_code == 200


def test_catalog_search_page_filters_and_pages(client, published):
    for number in range(3):
        published(title=f"Register {number}")
    html = client.get("/catalog?per_page=2&access_rights=NON_PUBLIC").get_data(as_text=True)
    assert "3 datasæt fundet" in html and "Side 1 af 2" in html
    assert "page=2" in html and "access_rights=NON_PUBLIC" in html
    bad = client.get("/catalog?per_page=abc").get_data(as_text=True)
    assert "Søgningen kunne ikke udføres" in bad


def test_form_takes_duo_arguments_and_the_date_shift(client, session, login, make_user, holder):
    csrf = _signed_in_holder(client, login, make_user, holder)
    created = client.post("/catalog/new", data=_form(
        csrf, duo_modifiers=["NCU", "TS", "GS"], duo_arg_TS="12", duo_arg_GS="dk, se",
        duo_arg_MOR="2027-01-01", **{"col-3-generalise": "date:shift"}))
    assert created.status_code == 302, created.get_data(as_text=True)
    dataset = session.scalars(sa.select(Dataset).where(Dataset.title == "Faldulykker")).one()
    # An argument of an unchecked modifier is ignored.
    assert dataset.data_use["modifiers"] == ["NCU", "TS:12", "GS:DK,SE"]
    assert dataset.columns[3]["generalise"] == {"kind": "date", "to": "shift"}
    page = client.get(f"/catalog/{dataset.id}/edit").get_data(as_text=True)
    assert 'id="mod-TS" name="duo_modifiers" value="TS" checked' in page
    assert 'name="duo_arg_TS" type="text" value="12"' in page

    refused = client.post("/catalog/new", data=_form(
        csrf, title="Andet", duo_modifiers=["TS"], duo_arg_TS="et år"))
    assert refused.status_code == 422
    assert "data_use.modifiers[0]" in refused.get_data(as_text=True)
    assert session.scalars(sa.select(Dataset).where(Dataset.title == "Andet")).first() is None


def test_browser_upload_larger_than_the_form_limit_is_accepted(client, session, login, make_user,
                                                               holder):
    """A data version of several MiB goes through the form (the CSRF check must not refuse it)."""
    csrf = _signed_in_holder(client, login, make_user, holder)
    assert client.post("/catalog/new", data=_form(csrf)).status_code == 302
    dataset = session.scalars(sa.select(Dataset).where(Dataset.title == "Faldulykker")).one()
    header, *rows = GOOD_CSV.strip().splitlines()
    body = "\n".join([header] + rows * (3 * 1024 * 1024 // len("\n".join(rows)) + 1)) + "\n"
    assert len(body) > 3 * 1024 * 1024
    uploaded = client.post(f"/catalog/{dataset.id}/upload", data={
        "csrf_token": csrf, "file": (io.BytesIO(body.encode()), "data.csv")},
        content_type="multipart/form-data")
    assert uploaded.status_code == 302, uploaded.status_code
    without_token = client.post(f"/catalog/{dataset.id}/upload", data={
        "file": (io.BytesIO(body.encode()), "data.csv")}, content_type="multipart/form-data")
    assert without_token.status_code == 403


def test_catalog_page_counts_every_value_clears_filters_and_sorts(client, published):
    published(title="Hjertesvigt i Herlev", health_categories=["EHR"])
    published(title="Astma hos børn", health_categories=["CARE"], access_rights="RESTRICTED")
    html = client.get("/catalog?health_category=CARE").get_data(as_text=True)
    assert "1 datasæt fundet" in html
    # The other category still shows what ticking it would add; empty ones show (0).
    assert 'for="f-health_category-EHR">Elektroniske patientjournaler <span class="count">(1)' \
        in html
    assert 'for="f-health_category-GENOMICS">Genetiske og genomiske data <span class="count">(0)' \
        in html
    assert 'href="/catalog"' in html and "Ryd alle filtre" in html
    assert 'aria-label="Fjern filteret Pleje- og omsorgsdata"' in html
    by_title = client.get("/catalog?sort=title").get_data(as_text=True)
    assert by_title.index("Astma hos børn") < by_title.index("Hjertesvigt i Herlev")
    assert '<option value="title" selected>' in by_title
    newest = client.get("/catalog?sort=newest").get_data(as_text=True)
    assert newest.index("Astma hos børn") < newest.index("Hjertesvigt i Herlev")
    assert "Søgningen kunne ikke udføres" in client.get(
        "/catalog?sort=<script>").get_data(as_text=True)
    assert client.get("/api/v1/datasets?sort=random").status_code == 422
    assert [d["title"] for d in client.get("/api/v1/datasets?sort=title").get_json()[
        "items"]] == ["Astma hos børn", "Hjertesvigt i Herlev"]


def test_a_search_without_results_suggests_what_to_try(client, published):
    published(title="Hjertesvigt i Herlev", health_categories=["EHR"])
    html = client.get("/catalog?q=hjertesvict").get_data(as_text=True)
    assert "Ingen datasæt matcher søgningen." in html
    assert 'href="/catalog?q=hjertesvigt"' in html and "Mente du »hjertesvigt«?" in html
    filtered = client.get("/catalog?q=hjertesvigt&health_category=CARE").get_data(as_text=True)
    assert 'href="/catalog?q=hjertesvigt">Søg uden filtre' in filtered
    nothing = client.get("/catalog?q=zzzqqq&lang=en").get_data(as_text=True)
    assert "Try fewer or more common words" in nothing
