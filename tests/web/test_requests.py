"""Request reading shared by the API blueprints: query models and JSON bodies."""
from __future__ import annotations

from marketplace.catalog.schemas import DatasetSearch


def test_a_query_schema_is_made_once_and_handed_out_as_a_copy():
    first = DatasetSearch.model_json_schema()
    first["properties"].clear()
    again = DatasetSearch.model_json_schema()
    assert again["properties"]["theme"]["type"] == "array"
    assert again is not first


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
