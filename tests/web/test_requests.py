"""Request reading shared by the API blueprints: query models and JSON bodies."""
from __future__ import annotations

from marketplace.catalog.schemas import DatasetSearch


def test_a_query_schema_is_made_once_and_copied_only_for_callers_that_may_edit_it():
    # The per-request read (no arguments) gets the kept schema itself: no copy per request.
    assert DatasetSearch.model_json_schema() is DatasetSearch.model_json_schema()
    template = "#/components/schemas/{model}"
    edited = DatasetSearch.model_json_schema(ref_template=template)
    edited["properties"].clear()
    again = DatasetSearch.model_json_schema(ref_template=template)
    assert again is not edited
    assert again["properties"]["theme"]["type"] == "array"
    assert DatasetSearch.model_json_schema()["properties"]["theme"]["type"] == "array"


def test_repeated_list_parameters_and_commas_mean_the_same(client):
    one = client.get("/api/v1/datasets?theme=HEAL,SOCI").get_json()
    two = client.get("/api/v1/datasets?theme=HEAL&theme=SOCI").get_json()
    assert one == two


def test_a_body_that_is_not_json_is_400_before_any_model(client, make_org, api_headers):
    headers = api_headers(make_org(kind="regional"))
    for path, method in (("/api/v1/datasets", "POST"), ("/api/v1/datasets/1", "PATCH")):
        response = client.open(path, method=method, data="{not json",
                               content_type="application/json", headers=headers)
        assert response.status_code == 400
        assert response.mimetype == "application/problem+json"
        assert "JSON" in response.get_json()["detail"]


def test_an_api_caller_gets_its_messages_in_the_language_it_accepts(client):
    """A program states its language in Accept-Language; pages stay Danish until ?lang= asks."""
    def problem(**headers: str) -> tuple[str, str]:
        response = client.get("/api/v1/datasets?page=0", headers=headers)
        assert response.status_code == 422
        assert "Accept-Language" in response.headers["Vary"]
        return response.get_json()["title"], response.get_json()["errors"][0]["message"]

    danish = problem()
    assert problem(**{"Accept-Language": "da, en;q=0.8"}) == danish
    english = problem(**{"Accept-Language": "en-GB,en;q=0.9,da;q=0.5"})
    assert english[0] == "Invalid input" and english != danish
    assert problem(**{"Accept-Language": "de-DE, fr;q=0.5"}) == danish  # neither offered
    assert problem(**{"Accept-Language": ";;;q=zz, en;q=x"}) == danish  # unreadable: the default
    page = client.get("/catalog", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert 'lang="da"' in page
