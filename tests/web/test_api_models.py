"""The typed edge's models document the API under their class names: two must never share one."""
from __future__ import annotations

from collections import defaultdict

from pydantic import BaseModel


def _subclasses(cls: type) -> set[type]:
    found: set[type] = set()
    for sub in cls.__subclasses__():
        found |= {sub} | _subclasses(sub)
    return found


def test_no_two_api_models_share_a_name(app) -> None:
    by_name: dict[str, set[str]] = defaultdict(set)
    for model in _subclasses(BaseModel):
        if model.__module__.startswith("marketplace.") and "[" not in model.__name__:
            by_name[model.__name__].add(model.__module__)
    shared = {name: sorted(modules) for name, modules in by_name.items() if len(modules) > 1}
    # flask-openapi3 keys components by class name: a second model silently replaces the first
    # in /api/openapi.json, and the contract then describes the wrong body.
    assert shared == {}
