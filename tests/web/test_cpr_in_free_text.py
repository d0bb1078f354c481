"""No CPR number in free text anywhere: every text field of every JSON request body refuses one,
in every spelling the CPR scan knows, with a 422 naming the field in the caller's language.

The fields come from the OpenAPI document, which is generated from the same models that
validate requests (and that browser forms validate through), so a new field is covered as soon
as it exists. A refusal happens before any view runs, so nothing is stored.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

SPELLINGS = ["0703851234", "070385-1234", "070385 1234", "07.03.85-1234", "07/03/85 1234",
             "07-03-1985-1234", "070385\u20131234", "\uff10\uff17\uff10\uff13\uff18\uff15"
             "\uff11\uff12\uff13\uff14", "0703\u200b851234"]
NOT_FREE_TEXT = ("enum", "pattern", "format", "const")


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        schema = spec["components"]["schemas"][name]
    return schema


def _options(spec: dict[str, Any], schema: dict[str, Any]) -> list[dict[str, Any]]:
    schema = _resolve(spec, schema)
    alternatives = schema.get("anyOf") or schema.get("oneOf") or schema.get("allOf")
    if alternatives:
        return [o for a in alternatives for o in _options(spec, a)]
    return [schema]


def _text_fields(spec: dict[str, Any], schema: dict[str, Any], path: tuple[Any, ...] = (),
                 depth: int = 0) -> list[tuple[tuple[Any, ...], bool]]:
    """(path, is a list) of every free-text string in a body schema, nested ones included."""
    found: list[tuple[tuple[Any, ...], bool]] = []
    if depth > 6:
        return found
    for option in _options(spec, schema):
        kind = option.get("type")
        if kind == "string" and not any(k in option for k in NOT_FREE_TEXT):
            found.append((path, False))
        elif kind == "array":
            for item in _options(spec, option.get("items", {})):
                if item.get("type") == "string" and not any(k in item for k in NOT_FREE_TEXT):
                    found.append((path, True))
                elif item.get("type") == "object":
                    found += [((*path, 0, *sub[len(path) + 1:]), many) for sub, many in
                              _text_fields(spec, item, (*path, 0), depth + 1)]
        elif kind == "object" or "properties" in option:
            for name, sub in option.get("properties", {}).items():
                found += _text_fields(spec, sub, (*path, name), depth + 1)
    return list(dict.fromkeys(found))


def _body(path: tuple[Any, ...], many: bool, text: str) -> Any:
    value: Any = [text] if many else text
    for step in reversed(path):
        value = [value] if step == 0 else {step: value}
    return value


def test_every_free_text_field_of_every_body_refuses_a_cpr_in_every_spelling(
        app: Flask, client: FlaskClient) -> None:
    spec = client.get("/api/openapi.json").get_json()
    checked, accepted, authorised_first = 0, [], []
    for url, operations in spec["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            schema = content.get("application/json", {}).get("schema")
            if schema is None:
                continue
            target = re.sub(r"\{[^}]+\}", "1", url)
            for path, many in _text_fields(spec, schema):
                field = "".join(f"[{p}]" if p == 0 else f".{p}" for p in path).lstrip(".")
                for spelling in SPELLINGS:
                    text = f"Patienten {spelling} blev fulgt op"
                    response = client.open(target, method=method.upper(),
                                           json=_body(path, many, text))
                    body = response.get_json(silent=True) or {}
                    if response.status_code in (401, 403) and "errors" not in body:
                        authorised_first.append(f"{method.upper()} {url} {field}")
                        break
                    named = [e for e in body.get("errors", [])
                             if str(e.get("field", "")).startswith(field)]
                    if (response.status_code != 422 or not named
                            or spelling in response.get_data(as_text=True)):
                        accepted.append(f"{method.upper()} {url} {field} {spelling!r}: "
                                        f"{response.status_code}")
                        break
                checked += 1
    assert accepted == [], "\n".join(accepted)
    assert authorised_first == []  # every body is checked before anything else runs
    assert checked >= 50


@pytest.mark.parametrize(("lang", "message"), [("da", "fjern CPR-numre fra teksten"),
                                               ("en", "remove CPR numbers from the text")])
def test_the_refusal_names_the_field_in_the_callers_language(client: FlaskClient, lang: str,
                                                              message: str) -> None:
    response = client.post(f"/api/v1/datasets?lang={lang}",
                           json={"title": "Indlæggelser 010190-1234"})
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert {"field": "title", "message": message} in response.get_json()["errors"]
    assert "1234" not in response.get_data(as_text=True)
