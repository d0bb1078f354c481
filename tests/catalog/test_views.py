"""The catalog API and pages: what data holders and the public can do, and what they cannot."""
from __future__ import annotations

import io

import pytest

from marketplace.catalog import services
from tests.catalog.conftest import GOOD_CSV


def test_holder_creates_uploads_and_publishes(client, create, upload, holder_headers):
    dataset = create()
    assert dataset["status"] == "draft"
    assert dataset["publisher"]["level"] == "regional"

    response = upload(dataset["id"])
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["valid"] is True
    assert body["report"]["row_count"] == 3

    published = client.post(f"/api/v1/datasets/{dataset['id']}/publish", headers=holder_headers)
    assert published.status_code == 200
    assert published.get_json()["status"] == "published"
    # Facts come from the data: three records of two people.
    assert published.get_json()["number_of_records"] == 3
    assert published.get_json()["number_of_unique_individuals"] == 2


def _count(session, model) -> int:
    import sqlalchemy as sa
    return session.scalar(sa.select(sa.func.count()).select_from(model))


def test_creating_needs_a_token_with_catalog_write(client, descriptor, make_org, api_headers):
    assert client.post("/api/v1/datasets", json=descriptor).status_code == 401
    company = make_org(kind="company")
    response = client.post("/api/v1/datasets", json=descriptor,
                           headers=api_headers(company, scopes="access:request"))
    assert response.status_code == 403
    assert response.mimetype == "application/problem+json"


def test_only_data_holders_publish_even_with_the_scope(client, descriptor, make_org,
                                                       api_headers):
    operator = make_org(kind="operator")
    response = client.post("/api/v1/datasets", json=descriptor, headers=api_headers(operator))
    assert response.status_code == 403


def test_invalid_descriptor_names_each_field_and_stores_nothing(client, session, descriptor,
                                                               holder_headers):
    from marketplace.catalog.models import Dataset
    before = _count(session, Dataset)
    descriptor["data_use"] = {"permission": "XYZ", "modifiers": ["NOPE"]}
    descriptor["columns"][5]["minimum"] = 500
    descriptor["temporal"] = {"start": "2020-01-01", "end": "2019-01-01"}
    response = client.post("/api/v1/datasets", json=descriptor, headers=holder_headers)
    assert response.status_code == 422
    fields = {e["field"] for e in response.get_json()["errors"]}
    assert {"data_use.permission", "data_use.modifiers[0]", "columns[5].minimum",
            "temporal"} <= fields
    assert _count(session, Dataset) == before


def test_malformed_json_body_is_a_clear_400(client, holder_headers):
    response = client.post("/api/v1/datasets", data="{not json",
                           content_type="application/json", headers=holder_headers)
    assert response.status_code == 400
    assert "JSON" in response.get_json()["detail"]


def test_drafts_are_private_to_their_holder(client, create):
    dataset = create()
    assert client.get(f"/api/v1/datasets/{dataset['id']}").status_code == 404
    assert client.get("/api/v1/datasets").get_json()["total"] == 0


def test_publishing_without_valid_data_is_a_conflict(client, create, holder_headers):
    dataset = create()
    response = client.post(f"/api/v1/datasets/{dataset['id']}/publish", headers=holder_headers)
    assert response.status_code == 409
    assert client.get(f"/api/v1/datasets/{dataset['id']}", headers=holder_headers
                      ).get_json()["status"] == "draft"


def test_another_holder_cannot_change_or_upload(client, published, make_org, api_headers):
    dataset = published()
    other = api_headers(make_org(kind="municipal"))
    patch = client.patch(f"/api/v1/datasets/{dataset['id']}", json={"title": "Hijacked"},
                         headers=other)
    assert patch.status_code == 403
    upload = client.put(f"/api/v1/datasets/{dataset['id']}/data", data=GOOD_CSV,
                        content_type="text/csv", headers=other)
    assert upload.status_code == 403
    retire = client.post(f"/api/v1/datasets/{dataset['id']}/retire", headers=other)
    assert retire.status_code == 403
    after = client.get(f"/api/v1/datasets/{dataset['id']}").get_json()
    assert after["title"] == dataset["title"] and after["status"] == "published"


def test_patch_changes_fields_and_keeps_the_rest(client, create, holder_headers):
    dataset = create()
    response = client.patch(f"/api/v1/datasets/{dataset['id']}",
                            json={"title": "Ny titel", "k_min": 8}, headers=holder_headers)
    assert response.status_code == 200
    body = response.get_json()
    assert body["title"] == "Ny titel" and body["k_min"] == 8
    assert body["description"] == dataset["description"]


def test_server_computed_facts_cannot_be_set_by_the_client(client, create, holder_headers):
    dataset = create(number_of_records=999_999, status="published")
    assert dataset["number_of_records"] is None
    assert dataset["status"] == "draft"


def test_invalid_data_is_refused_with_rows_but_never_identifier_values(
        client, create, upload, holder_headers, session):
    dataset = create()
    bad = ("cpr,birth_date,sex,admitted,diagnosis,days\n"
           "3213851234,1985-03-07,female,2020-05-01,DJ441,3\n"
           "0703851234,1985-03-07,x,2010-05-01,J44,900\n")
    response = upload(dataset["id"], bad)
    assert response.status_code == 422
    problem = response.get_json()
    failed = {(e["field"], e["rule"]): e["example_rows"] for e in problem["errors"]}
    assert failed[("cpr", "cpr")] == [1]
    assert failed[("sex", "allowed")] == [2]
    assert failed[("admitted", "range")] == [2]
    assert failed[("diagnosis", "pattern")] == [2]
    assert failed[("days", "range")] == [2]
    text = response.get_data(as_text=True)
    assert "3213851234" not in text and "0703851234" not in text
    # The failed report is kept; the dataset still cannot be published.
    quality = client.get(f"/api/v1/datasets/{dataset['id']}/quality", headers=holder_headers)
    assert quality.get_json()["valid"] is False
    assert client.post(f"/api/v1/datasets/{dataset['id']}/publish",
                       headers=holder_headers).status_code == 409


def test_a_failed_new_version_keeps_the_old_one_current(client, published, upload, session,
                                                        keyring, data_dir):
    dataset = published()
    response = upload(dataset["id"], GOOD_CSV.replace("DJ441", "bad"))
    assert response.status_code == 422
    stored = services.require_dataset(session, dataset_id=dataset["id"])
    current = services.current_version(session, dataset=stored)
    assert current.number == 1
    frame = next(services.read_version_frames(current, keyring=keyring, data_dir=data_dir))
    assert list(frame["diagnosis"]) == ["DJ441", "DJ449", "DI500"]
    assert frame["_subject_key"].iloc[0] == keyring.blind_index("0703851234")
    assert frame["_subject_key"].iloc[0] == frame["_subject_key"].iloc[2]
    assert client.get(f"/api/v1/datasets/{dataset['id']}").get_json()["status"] == "published"


def test_malformed_files_store_nothing(client, create, upload, session, data_dir):
    from marketplace.catalog.models import DataVersion
    dataset = create()
    cases = {
        "ragged": GOOD_CSV + "0101701235,1970-01-01,male\n",
        "utf-16": GOOD_CSV.encode("utf-16"),
        "formula": GOOD_CSV.replace("DJ449", "=cmd|' /C calc'!A0"),
        "latin-1": GOOD_CSV.replace("female", "kvinde æ").encode("latin-1"),
        "header": GOOD_CSV.replace("days", "nights"),
        "empty": "",
    }
    for name, body in cases.items():
        response = upload(dataset["id"], body)
        assert response.status_code == 422, name
        assert response.get_json()["detail"], name
    wrong_parquet = upload(dataset["id"], b"PAR1 this is not parquet PAR1",
                           "application/vnd.apache.parquet")
    assert wrong_parquet.status_code == 422
    assert _count(session, DataVersion) == 0
    assert not any(p.is_file() for p in data_dir.rglob("*"))


def test_parquet_with_the_wrong_schema_is_refused(client, create, upload, tmp_path):
    import pandas as pd
    dataset = create()
    frame = pd.DataFrame({"cpr": ["0703851234"], "birth_date": ["1985-03-07"], "sex": ["female"],
                          "admitted": ["2020-01-01"], "diagnosis": ["DJ44"], "days": ["three"]})
    frame.to_parquet(tmp_path / "bad.parquet")
    response = upload(dataset["id"], (tmp_path / "bad.parquet").read_bytes(),
                      "application/vnd.apache.parquet")
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "days"


def test_parquet_upload_is_validated_like_csv(client, create, upload, tmp_path):
    import pandas as pd
    dataset = create()
    frame = pd.DataFrame({"cpr": ["0703851234"], "birth_date": [pd.Timestamp("1985-03-07")],
                          "sex": ["female"], "admitted": [pd.Timestamp("2020-01-01")],
                          "diagnosis": ["DJ44"], "days": [3]})
    frame.to_parquet(tmp_path / "good.parquet")
    response = upload(dataset["id"], (tmp_path / "good.parquet").read_bytes(),
                      "application/vnd.apache.parquet")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["report"]["facts"]["number_of_unique_individuals"] == 1


def test_upload_past_the_size_limit_is_413_and_leaves_no_file(app, client, create, upload,
                                                              data_dir, session):
    from marketplace.catalog.models import DataVersion
    app.config["MAX_UPLOAD_BYTES"] = 100
    dataset = create()
    response = upload(dataset["id"], GOOD_CSV * 5)
    assert response.status_code == 413
    assert _count(session, DataVersion) == 0
    assert not any(p.is_file() for p in data_dir.rglob("*"))


def test_column_dictionary_is_locked_once_data_is_stored(client, published, holder_headers):
    dataset = published()
    columns = dataset["columns"][:-1]
    response = client.patch(f"/api/v1/datasets/{dataset['id']}", json={"columns": columns},
                            headers=holder_headers)
    assert response.status_code == 409


def test_retired_datasets_leave_the_catalog(client, published, holder_headers):
    dataset = published()
    assert client.get("/api/v1/datasets").get_json()["total"] == 1
    response = client.post(f"/api/v1/datasets/{dataset['id']}/retire", headers=holder_headers)
    assert response.get_json()["status"] == "retired"
    assert client.get("/api/v1/datasets").get_json()["total"] == 0
    assert client.patch(f"/api/v1/datasets/{dataset['id']}", json={"title": "x"},
                        headers=holder_headers).status_code == 409
    assert client.post(f"/api/v1/datasets/{dataset['id']}/publish",
                       headers=holder_headers).status_code == 409


def test_search_full_text_facets_and_paging(client, published):
    published(title="Hjertesvigt i Herlev", keywords=["hjerte"], health_categories=["EHR"])
    published(title="Genoptræning i Brøndby", keywords=["rehabilitering"],
              health_categories=["CARE"], access_rights="RESTRICTED", title_en="Rehab")
    body = client.get("/api/v1/datasets?q=hjerte").get_json()
    assert [d["title"] for d in body["items"]] == ["Hjertesvigt i Herlev"]
    assert client.get("/api/v1/datasets?q=rehab").get_json()["total"] == 1  # English title
    everything = client.get("/api/v1/datasets").get_json()
    assert everything["facets"]["access_rights"]["RESTRICTED"] == 1
    assert everything["facets"]["publisher_level"]["regional"] == 2
    assert everything["facets"]["health_category"]["CARE"] == 1
    care = client.get("/api/v1/datasets?health_category=CARE").get_json()
    assert [d["title"] for d in care["items"]] == ["Genoptræning i Brøndby"]
    assert client.get("/api/v1/datasets?publisher_level=municipal").get_json()["total"] == 0
    page = client.get("/api/v1/datasets?per_page=1&page=2").get_json()
    assert page["total"] == 2 and len(page["items"]) == 1


def test_search_rejects_bad_parameters(client):
    response = client.get("/api/v1/datasets?per_page=1000&theme=NOPE&page=x")
    assert response.status_code == 422
    assert {e["field"] for e in response.get_json()["errors"]} == {"per_page", "theme[0]", "page"}


def test_search_treats_wildcards_literally(client, published):
    published(title="100% sikker")
    assert client.get("/api/v1/datasets?q=%25").get_json()["total"] == 1
    assert client.get("/api/v1/datasets?q=_").get_json()["total"] == 0


def test_html_in_titles_is_escaped_on_every_page(client, published):
    dataset = published(title="<script>alert(1)</script> KOL", keywords=["<b>x</b>"])
    for path in ("/catalog", f"/catalog/{dataset['id']}", "/catalog?q=KOL"):
        html = client.get(path).get_data(as_text=True)
        assert "<script>alert(1)</script>" not in html, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, path


def test_catalog_pages_in_danish_and_english(client, published):
    dataset = published()
    danish = client.get("/catalog").get_data(as_text=True)
    assert "Datakatalog" in danish and "KOL-indlæggelser" in danish
    english = client.get("/catalog?lang=en").get_data(as_text=True)
    assert "Data catalogue" in english and "COPD admissions" in english
    page = client.get(f"/catalog/{dataset['id']}?lang=en").get_data(as_text=True)
    assert "Column dictionary" in page


def test_quality_page_draws_completeness_chart(client, published):
    dataset = published()
    response = client.get(f"/catalog/{dataset['id']}/quality")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<svg" in html and "100 %" in html
    assert "0703851234" not in html


def test_quality_json(client, published):
    dataset = published()
    report = client.get(f"/api/v1/datasets/{dataset['id']}/quality").get_json()
    assert report["valid"] is True
    assert report["report"]["completeness"]["cpr"] == 1.0
    assert report["report"]["engine"] == "great_expectations"
    assert all(e["success"] for e in report["report"]["expectations"])


def test_exports_hold_only_published_datasets(client, published, create):
    from rdflib import Graph
    shown = published(title="Udgivet")
    hidden = create(title="Hemmelig kladde")
    turtle = client.get("/catalog.ttl")
    assert turtle.mimetype == "text/turtle"
    graph = Graph().parse(data=turtle.get_data(as_text=True), format="turtle")
    titles = {str(t) for t in graph.objects(None, __import__("rdflib").DCTERMS.title)}
    assert "Udgivet" in titles and hidden["title"] not in titles
    jsonld = client.get("/catalog.jsonld")
    assert jsonld.mimetype == "application/ld+json"
    assert len(Graph().parse(data=jsonld.get_data(as_text=True), format="json-ld")) == len(graph)
    assert str(shown["id"]) in turtle.get_data(as_text=True)


def test_counts_by_level(session, published):
    published()
    assert services.count_published_by_level(session) == {"national": 0, "regional": 1,
                                                          "municipal": 0}


def test_uploads_larger_than_the_form_limit_stream_through(app, client, create, upload):
    assert app.config["MAX_CONTENT_LENGTH"] < 2_000_000
    rows = "0703851234,1985-03-07,female,2020-05-01,DJ441,3\n" * 45_000
    body = GOOD_CSV + rows
    assert len(body) > 2_000_000
    response = upload(create()["id"], body)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["number_of_rows"] == 45_003


def test_failed_versions_are_private_to_the_holder(client, published, upload):
    dataset = published()
    assert upload(dataset["id"], GOOD_CSV.replace("DJ441", "bad")).status_code == 422
    public = client.get(f"/api/v1/datasets/{dataset['id']}/quality").get_json()
    assert public["version"] == 1 and public["valid"] is True
    hidden = client.get(f"/api/v1/datasets/{dataset['id']}/quality?version=2")
    assert hidden.status_code == 404


def test_api_accepts_the_file_as_a_multipart_form_too(client, create, holder_headers):
    import io
    dataset = create()
    response = client.put(f"/api/v1/datasets/{dataset['id']}/data", headers=holder_headers,
                          data={"file": (io.BytesIO(GOOD_CSV.encode()), "version.csv")},
                          content_type="multipart/form-data")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["number_of_rows"] == 3


def test_a_tampered_stored_version_cannot_be_read(client, published, session, keyring, data_dir):
    import pytest

    from marketplace.errors import Invalid
    dataset = published()
    version = services.current_version(
        session, dataset=services.require_dataset(session, dataset_id=dataset["id"]))
    path = services.version_path(version, data_dir=data_dir)
    blob = bytearray(path.read_bytes())
    blob[-5] ^= 0xFF
    path.write_bytes(bytes(blob))
    with pytest.raises(Invalid):
        next(services.read_version_frames(version, keyring=keyring, data_dir=data_dir))



def test_duo_arguments_and_purposes_are_stored_and_exported(client, published, holder_headers):
    use = {"permission": "GRU", "modifiers": ["TS(12)", "GS:EU", "IS:test-hospital", "IRB"],
           "purposes": ["public_research"]}
    dataset = published(data_use=use)
    shown = client.get(f"/api/v1/datasets/{dataset['id']}").get_json()
    assert shown["data_use"]["modifiers"] == ["TS:12", "GS:EU", "IS:test-hospital", "IRB"]
    assert shown["data_use"]["purposes"] == ["public_research"]
    turtle = client.get("/catalog.ttl").get_data(as_text=True)
    assert "DUO TS:12" in turtle and "DUO_0000025" in turtle and "DUO IS:test-hospital" in turtle


def test_a_bad_duo_argument_is_a_422_naming_it_and_nothing_changes(client, create,
                                                                   holder_headers):
    dataset = create()
    response = client.patch(f"/api/v1/datasets/{dataset['id']}", headers=holder_headers,
                            json={"data_use": {"permission": "GRU",
                                               "modifiers": ["IRB", "MOR:2027-13-01"]}})
    assert response.status_code == 422
    assert [e["field"] for e in response.get_json()["errors"]] == ["data_use.modifiers[1]"]
    after = client.get(f"/api/v1/datasets/{dataset['id']}", headers=holder_headers)
    assert after.get_json()["data_use"] == dataset["data_use"]


def test_stored_versions_read_back_in_batches_with_text_as_categories(published, session,
                                                                      keyring, data_dir):
    import pandas as pd
    dataset = services.require_dataset(session, dataset_id=published()["id"])
    version = services.current_version(session, dataset=dataset)
    whole = next(services.read_version_frames(version, keyring=keyring, data_dir=data_dir))
    batches = list(services.read_version_frames(version, keyring=keyring, data_dir=data_dir,
                                                columns=["diagnosis", "_subject_key", "days"],
                                                batch_rows=2))
    assert [len(b) for b in batches] == [2, 1]
    assert isinstance(batches[0]["diagnosis"].dtype, pd.CategoricalDtype)
    # A batch's categories are the values it holds, not its row group's whole dictionary.
    assert list(batches[1]["diagnosis"].cat.categories) == ["DI500"]
    joined = pd.concat(batches, ignore_index=True)
    assert list(joined["diagnosis"].astype(str)) == list(whole["diagnosis"].astype(str))
    assert list(joined["_subject_key"].astype(str)) == list(whole["_subject_key"].astype(str))
    assert list(joined["days"]) == list(whole["days"])


def test_a_file_without_header_row_never_echoes_its_first_row(create, upload):
    dataset = create()
    response = upload(dataset["id"], "0703851234,1985-03-07,female,2020-05-01,DJ441,3\n"
                                     "010170-1235,1970-01-01,male,2021-01-02,DJ449,10\n")
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert "0703851234" not in text and "1985-03-07" not in text


# --- hostile input: always a clear 4xx in the caller's language, never a 500, nothing stored ---

DEEP = "[" * 1000 + "]" * 1000


def _raw(client, method, path, text, headers):
    return client.open(path, method=method, data=text.encode("utf-8", "surrogatepass"),
                       content_type="application/json", headers=headers)


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/api/v1/datasets/2147483648"),
    ("GET", "/api/v1/datasets/99999999999999999999999"),
    ("GET", "/api/v1/datasets/1/quality?version=2147483648"),
    ("GET", "/api/v1/datasets?page=99999999999"),
    ("GET", "/api/v1/datasets?per_page=-1"),
    ("GET", "/api/v1/datasets?theme=" + "x" * 10_000),
    ("PATCH", "/api/v1/datasets/2147483648"),
    ("POST", "/api/v1/datasets/2147483648/publish"),
    ("PUT", "/api/v1/datasets/2147483648/data"),
])
def test_ids_and_numbers_out_of_range_are_422(client, holder_headers, method, path):
    response = client.open(path, method=method, json={} if method == "PATCH" else None,
                           headers=holder_headers)
    assert response.status_code in (404, 422), response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize(("body", "field"), [
    ('{"title": "\\ud800", "description": "x", "health_categories": ["EHR"]}', "title"),
    ('{"title": "a\\u0000b", "description": "x", "health_categories": ["EHR"]}', "title"),
    ('{"title": 5, "description": "x", "health_categories": ["EHR"]}', "title"),
    ('{"title": "t", "description": "x", "health_categories": "EHR"}', "health_categories"),
    ('{"title": "t", "description": "x", "health_categories": ["EHR"], "k_min": 1e400}',
     "k_min"),
    ('{"title": "t", "description": "x", "health_categories": ["EHR"], "k_min": 2147483648}',
     "k_min"),
    ('{"title": "t", "description": "' + "x" * 10_001 + '", "health_categories": ["EHR"]}',
     "description"),
    ('{"title": "t", "description": "x", "health_categories": ["EHR"], "keywords": ['
     + ",".join(['"k"'] * 10_000) + "]}", "keywords"),
    ('{"title": "t", "description": "x", "health_categories": ["EHR"], "columns": '
     + "[" * 50 + "]" * 50 + "}", "columns[0]"),
])
def test_hostile_descriptors_are_refused_and_nothing_is_stored(client, session, holder_headers,
                                                               body, field):
    from marketplace.catalog.models import Dataset
    before = _count(session, Dataset)
    response = _raw(client, "POST", "/api/v1/datasets", body, holder_headers)
    assert response.status_code == 422, response.get_data(as_text=True)
    problem = response.get_json()
    assert field in {e["field"] for e in problem["errors"]}
    assert problem["title"] == "Ugyldigt input"
    assert _count(session, Dataset) == before


@pytest.mark.parametrize("body", [
    '{"title": ' + '{"a": ' * 1000 + "1" + "}" * 1000 + "}",
    '{"title": "t", "columns": ' + DEEP + "}",
])
def test_json_nested_a_thousand_levels_is_a_clear_4xx(client, session, holder_headers, body):
    from marketplace.catalog.models import Dataset
    before = _count(session, Dataset)
    response = _raw(client, "POST", "/api/v1/datasets", body, holder_headers)
    assert response.status_code in (400, 422)
    assert response.mimetype == "application/problem+json"
    assert _count(session, Dataset) == before


def test_validation_errors_speak_english_on_request(client, holder_headers, descriptor):
    response = client.post("/api/v1/datasets?lang=en", json=descriptor | {"k_min": 1},
                           headers=holder_headers)
    assert response.status_code == 422
    assert {"field": "k_min", "message": "must be at least 2"} in response.get_json()["errors"]
    danish = client.post("/api/v1/datasets?lang=da", json=descriptor | {"k_min": 1},
                         headers=holder_headers)
    assert {"field": "k_min", "message": "skal være mindst 2"} in danish.get_json()["errors"]
    descriptor["data_use"] = {"permission": "DS"}
    ours = client.post("/api/v1/datasets?lang=en", json=descriptor, headers=holder_headers)
    assert {"field": "data_use.diseases", "message": "DS (disease-specific) needs at least one "
            "disease"} in ours.get_json()["errors"]


@pytest.mark.parametrize("categorical", [False, True])
def test_parquet_with_a_formula_cell_is_refused_and_nothing_stored(
        client, create, upload, session, data_dir, tmp_path, holder_headers, categorical):
    import pandas as pd

    from marketplace.catalog.models import DataVersion
    dataset = create()
    diagnoses = ["DJ44", '=HYPERLINK("http://evil.example","Klik")', "DJ44"]
    frame = pd.DataFrame({
        "cpr": ["0703851234", "0101701235", "0703851234"],
        "birth_date": [pd.Timestamp("1985-03-07"), pd.Timestamp("1970-01-01"),
                       pd.Timestamp("1985-03-07")],
        "sex": ["female", "male", "female"],
        "admitted": [pd.Timestamp("2020-01-01")] * 3,
        "diagnosis": pd.Categorical(diagnoses) if categorical else diagnoses,
        "days": [3, 4, 5]})
    frame.to_parquet(tmp_path / "formula.parquet")
    body = (tmp_path / "formula.parquet").read_bytes()
    response = upload(dataset["id"], body, "application/vnd.apache.parquet")
    assert response.status_code == 422
    problem = response.get_json()
    assert problem["detail"] == "Filen har celler, som et regneark ville køre som formler."
    assert problem["errors"] == [{"field": "diagnosis", "message": "celler begynder med =, +, "
                                  "-, @ eller tabulator (rækker 2)"}]
    english = client.put(f"/api/v1/datasets/{dataset['id']}/data?lang=en", data=body,
                         content_type="application/vnd.apache.parquet", headers=holder_headers)
    assert english.status_code == 422
    assert english.get_json()["detail"] == ("The file holds cells that spreadsheets would run "
                                            "as formulas.")
    assert english.get_json()["errors"][0]["message"] == ("cells start with =, +, -, @ or a "
                                                          "tab (rows 2)")
    assert _count(session, DataVersion) == 0
    assert not any(p.is_file() for p in data_dir.rglob("*"))


def _dead_pid() -> int:
    import subprocess
    import sys

    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)
    return int(finished.stdout)


def test_start_up_removes_what_killed_processes_left_and_keeps_stored_data(
        app, client, create, upload, data_dir, tmp_path, monkeypatch, database, holder_headers):
    from marketplace import composition, create_app
    from tests.conftest import base_config

    dataset = create()
    assert upload(dataset["id"]).status_code == 200
    stored = [p for p in (data_dir / "catalog").rglob("*") if p.is_file()]
    dead = _dead_pid()
    folder = data_dir / "catalog" / str(dataset["id"])
    planted = {
        # an older release's clear spool, a half-written file and a complete file whose
        # upload was killed before the commit, an extract file no extract points at
        data_dir / "tmp" / "tmpab12.upload": b"cpr\n0703851234\n",
        folder / f".v2-{dead}-00aa.parquet.enc.{dead}.beef.part": b"x",
        folder / f"v2-{dead}-00aa.parquet.enc": b"x",
        data_dir / "extracts" / "999.parquet.enc": b"x",
    }
    for path, content in planted.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)

    removed = composition.remove_leftovers(app.extensions["marketplace.sessionmaker"],
                                           data_dir=data_dir)
    assert sorted(removed) == sorted(planted)
    assert [p for p in data_dir.rglob("*") if p.is_file()] == stored
    assert client.get(f"/api/v1/datasets/{dataset['id']}/quality",
                      headers=holder_headers).status_code == 200

    # The app's start-up does it too: a clear spool of an older release is gone before serving.
    (data_dir / "tmp" / "tmpcd34.upload").write_bytes(b"cpr\n0703851234\n")
    monkeypatch.setenv("MARKETPLACE_INSTANCE_PATH", str(tmp_path / "instance"))
    create_app(base_config(tmp_path, database.url))
    assert list((data_dir / "tmp").iterdir()) == []


def test_a_form_upload_is_never_in_clear_on_disk(app, client, create, holder_headers, data_dir,
                                                  monkeypatch):
    from marketplace.security import SealedSpool

    spooled: list[bytes] = []
    seal = SealedSpool._seal

    def watch(spool: SealedSpool, segment: bytes) -> None:
        seal(spool, segment)
        spool._file.flush()
        spool._file.seek(0)
        spooled.append(spool._file.read())  # what is on disk at this moment
        spool._file.seek(0, 2)

    monkeypatch.setattr(SealedSpool, "_seal", watch)
    rows = "0703851234,1985-03-07,female,2020-05-01,DJ441,3\n" * 30_000
    dataset = create()
    response = client.put(f"/api/v1/datasets/{dataset['id']}/data", headers=holder_headers,
                          data={"file": (io.BytesIO((GOOD_CSV + rows).encode()), "data.csv")},
                          content_type="multipart/form-data")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["number_of_rows"] == 30_003
    assert spooled and not any(b"0703851234" in disk for disk in spooled)
    assert list((data_dir / "tmp").iterdir()) == []
