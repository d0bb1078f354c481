"""The holder's publishing journey: a column dictionary that grows, errors beside the fields,
a CSV template of the columns, and uploads that survive a double click and leave no orphans."""
from __future__ import annotations

import io
import re

import pytest
import sqlalchemy as sa

from marketplace.catalog import forms, services
from marketplace.catalog.models import Dataset, DataVersion
from tests.catalog.conftest import GOOD_CSV
from tests.catalog.test_pages import _form, _signed_in_holder

TOKEN = "a" * 32


def _stored_files(data_dir, dataset_id) -> list[str]:
    folder = data_dir / "catalog" / str(dataset_id)
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def _count(session, model) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(model))


# --- the column dictionary --------------------------------------------------------------------

def test_the_form_starts_with_blank_rows_and_grows_one_at_a_time():
    assert len(forms.form_rows([])) == forms.BLANK_ROWS
    assert len(forms.form_rows([{"name": "a", "type": "string"}], total=6)) == 6
    assert len(forms.form_rows([], total=forms.MAX_ROWS + 5)) == forms.MAX_ROWS
    assert forms.rows_asked({"rows": "4"}, more=1) == 5
    for hostile in ("-3", "x", "9" * 20, ""):
        assert 1 <= forms.rows_asked({"rows": hostile}, more=1) <= forms.MAX_ROWS


def test_adding_a_column_without_scripts_keeps_what_was_typed(client, session, login, make_user,
                                                              holder):
    csrf = _signed_in_holder(client, login, make_user, holder)
    form = _form(csrf, rows="7", action="add_column")
    response = client.post("/catalog/new", data=form)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'name="rows" value="8"' in html
    assert 'id="col-7-name" name="col-7-name" value="" autofocus' in html
    assert 'name="col-5-name" value="days"' in html and 'value="Faldulykker"' in html
    assert "Beskrivelsen blev ikke gemt" not in html
    assert _count(session, Dataset) == 0
    saved = client.post("/catalog/new", data=_form(csrf, rows="8", **{
        "col-6-name": "ward", "col-6-type": "string", "col-6-role": "attribute"}))
    assert saved.status_code == 302
    dataset = session.scalars(sa.select(Dataset)).one()
    assert [c["name"] for c in dataset.columns][-1] == "ward"


def test_errors_stand_beside_the_fields_they_are_about(client, session, login, make_user,
                                                       holder):
    csrf = _signed_in_holder(client, login, make_user, holder)
    response = client.post("/catalog/new", data=_form(
        csrf, access_rights="SECRET", **{"col-2-type": "fancy", "col-5-minimum": "many"}))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert '<p class="field-error" id="access_rights-error">' in html
    assert re.search(r'id="col-2-type-error">[^<]+</p>\s*<select id="col-2-type" name="col-2-type"'
                     r' aria-describedby="col-2-type-error" aria-invalid="true">', html)
    assert 'id="col-5-minimum-error"' in html
    assert '<a href="#col-2-type">columns[2].type</a>' in html
    assert _count(session, Dataset) == 0


def test_the_form_has_no_table_wider_than_the_page(client, login, make_user, holder):
    _signed_in_holder(client, login, make_user, holder)
    html = client.get("/catalog/new").get_data(as_text=True)
    assert "<table" not in html.split('id="column-editor"')[1].split("</fieldset>\n  </fieldset")[0]
    assert html.count('class="column-row"') == forms.BLANK_ROWS
    assert '<label for="col-0-name">Navn<span class="visually-hidden row-name"> række 1</span>' \
        in html


# --- the CSV template -------------------------------------------------------------------------

def test_holder_downloads_a_csv_template_of_the_columns(client, create, login, make_user, holder,
                                                        make_org):
    dataset = create()
    _signed_in_holder(client, login, make_user, holder)
    response = client.get(f"/catalog/{dataset['id']}/template.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.get_data(as_text=True) == GOOD_CSV.splitlines()[0] + "\n"
    assert "attachment" in response.headers["Content-Disposition"]
    assert f"/catalog/{dataset['id']}/template.csv" in client.get(
        f"/catalog/{dataset['id']}/upload").get_data(as_text=True)
    login(make_user(make_org(kind="regional", slug="other-hospital")))
    assert client.get(f"/catalog/{dataset['id']}/template.csv").status_code in (403, 404)
    assert client.get("/catalog/987654/template.csv").status_code == 404


def test_the_template_needs_a_sign_in(client, create):
    dataset = create()
    response = client.get(f"/catalog/{dataset['id']}/template.csv")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


# --- uploads ----------------------------------------------------------------------------------

def _post(client, dataset_id, csrf, body=GOOD_CSV, token=TOKEN):
    data = {"csrf_token": csrf, "file": (io.BytesIO(body.encode()), "data.csv")}
    if token is not None:
        data["upload_token"] = token
    return client.post(f"/catalog/{dataset_id}/upload", data=data,
                       content_type="multipart/form-data")


def test_a_double_submitted_upload_stores_one_version_and_reports_it_twice(
        client, session, create, login, make_user, holder, data_dir):
    dataset = create()
    csrf = _signed_in_holder(client, login, make_user, holder)
    page = client.get(f"/catalog/{dataset['id']}/upload").get_data(as_text=True)
    token = re.search(r'name="upload_token" value="([^"]+)"', page).group(1)
    first = _post(client, dataset["id"], csrf, token=token)
    second = _post(client, dataset["id"], csrf, token=token)
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    assert second.headers["Location"].endswith("version=1")
    assert "Dataversion 1 er gyldig." in client.get(second.headers["Location"]).get_data(
        as_text=True)
    assert _count(session, DataVersion) == 1
    assert len(_stored_files(data_dir, dataset["id"])) == 1
    other = client.get(f"/catalog/{dataset['id']}/upload").get_data(as_text=True)
    assert token not in other  # each form carries its own token


def test_the_api_honours_an_idempotency_key(client, session, create, upload, holder_headers,
                                            data_dir):
    dataset = create()
    headers = {**holder_headers, "Idempotency-Key": "retry-" + "b" * 20}
    first, again = upload(dataset["id"], headers=headers), upload(dataset["id"], headers=headers)
    assert first.status_code == again.status_code == 200
    assert first.get_json()["version"] == again.get_json()["version"] == 1
    assert _count(session, DataVersion) == 1
    bad = upload(dataset["id"], headers={**holder_headers, "Idempotency-Key": "x;DROP"})
    assert bad.status_code == 422 and bad.get_json()["errors"][0]["field"] == "upload_token"
    assert len(_stored_files(data_dir, dataset["id"])) == 1


def test_a_used_form_token_with_another_file_is_refused(client, session, create, login,
                                                        make_user, holder):
    dataset = create()
    csrf = _signed_in_holder(client, login, make_user, holder)
    assert _post(client, dataset["id"], csrf).status_code == 302
    changed = GOOD_CSV + "0101001234,2000-01-01,male,2022-01-01,DJ441,4\n"
    refused = _post(client, dataset["id"], csrf, body=changed)
    assert refused.status_code == 409
    assert _count(session, DataVersion) == 1


@pytest.mark.parametrize("body", ["not,a,csv\n\x00\x01", "cpr\n" + "x" * 10])
def test_failed_uploads_leave_no_file_behind(client, session, create, login, make_user, holder,
                                             data_dir, body):
    dataset = create()
    csrf = _signed_in_holder(client, login, make_user, holder)
    response = _post(client, dataset["id"], csrf, body=body, token=None)
    assert response.status_code in (302, 400, 422)
    assert _stored_files(data_dir, dataset["id"]) == []
    assert list((data_dir / "tmp").glob("*")) == [] if (data_dir / "tmp").exists() else True


def test_a_version_whose_transaction_is_rolled_back_leaves_no_file(session, create, holder,
                                                                   data_dir, keyring):
    from marketplace.identity.principal import Principal

    dataset = create()
    session.commit()
    actor = Principal(kind="client", name="test", org_id=holder.id, org_slug=holder.slug,
                      org_kind=holder.kind, scopes=frozenset({"catalog:write"}))
    version = services.upload_version(
        session, actor=actor, dataset_id=dataset["id"], stream=io.BytesIO(GOOD_CSV.encode()),
        media_type="text/csv", keyring=keyring, data_dir=data_dir, max_bytes=10**6)
    assert version.is_valid and len(_stored_files(data_dir, dataset["id"])) == 1
    session.rollback()
    assert _stored_files(data_dir, dataset["id"]) == []
    version = services.upload_version(
        session, actor=actor, dataset_id=dataset["id"], stream=io.BytesIO(GOOD_CSV.encode()),
        media_type="text/csv", keyring=keyring, data_dir=data_dir, max_bytes=10**6)
    session.commit()
    session.rollback()  # a later rollback leaves committed versions' files alone
    assert _stored_files(data_dir, dataset["id"]) == [version.path.rsplit("/", 1)[1]]


def test_two_copies_of_an_upload_sent_at_once_store_one_version(tmp_path, monkeypatch):
    """A double click sends the same upload twice at the same moment, over real connections."""
    import threading

    import requests
    from werkzeug.serving import make_server

    from marketplace import create_app, schema
    from marketplace.db import session_scope
    from marketplace.identity import services as identity
    from tests.catalog.conftest import DESCRIPTOR
    from tests.conftest import base_config

    monkeypatch.setenv("MARKETPLACE_INSTANCE_PATH", str(tmp_path / "instance"))
    url = f"sqlite:///{tmp_path / 'marketplace.db'}"
    schema.upgrade(url)
    app = create_app(base_config(tmp_path, url))
    with session_scope(app) as session:
        org = identity.create_org(session, slug="herlev-test", name="Herlev", kind="regional")
        issued = identity.create_api_client(session, keyring=app.extensions["marketplace.keyring"],
                                            org=org, scopes="catalog:write")
        credentials = (issued.client.client_id, issued.secret)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        token = requests.post(f"{base}/oauth/token", auth=credentials, timeout=60,
                              data={"grant_type": "client_credentials"}).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        dataset = requests.post(f"{base}/api/v1/datasets", json=DESCRIPTOR, headers=headers,
                                timeout=60).json()
        answers: list[tuple[int, int | None]] = []
        start = threading.Barrier(2)

        def send() -> None:
            start.wait()
            response = requests.put(
                f"{base}/api/v1/datasets/{dataset['id']}/data", data=GOOD_CSV.encode(),
                headers={**headers, "Content-Type": "text/csv", "Idempotency-Key": TOKEN},
                timeout=60)
            answers.append((response.status_code, response.json().get("version")))

        threads = [threading.Thread(target=send) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert answers == [(200, 1), (200, 1)]
        data_dir = app.config["DATA_DIR"]
        assert len(_stored_files(data_dir, dataset["id"])) == 1
        with session_scope(app) as session:
            assert _count(session, DataVersion) == 1
    finally:
        server.shutdown()
        app.extensions["marketplace.engine"].dispose()
