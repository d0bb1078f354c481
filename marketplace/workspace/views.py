"""HTTP glue of the secure processing environment: the workspace API and pages."""
from __future__ import annotations

from flask_openapi3 import APIBlueprint, Tag

api = APIBlueprint("workspace_api", __name__, abp_tags=[Tag(name="workspace")])
