"""Automatic disclosure checks of one output file: pure functions over the file's bytes.

Every check yields a `Check(rule, outcome, message)`; `outcome` is pass, warn or fail. Nothing
leaves on checks alone: a passing output still waits for human output checkers.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from marketplace.cpr import contains_cpr

Outcome = Literal["pass", "warn", "fail"]


@dataclass(frozen=True)
class Check:
    rule: str
    outcome: Outcome
    message: str

    def to_json(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class OutputRules:
    """The data holder's rules (the strictest over the permit's datasets)."""

    cell_threshold: int = 5
    allowed_types: frozenset[str] = frozenset({"csv", "txt", "json", "png", "svg", "pdf",
                                               "html", "md"})
    max_bytes: int = 50 * 1024 * 1024
    cohort_size: int | None = None
    acro_results: dict[str, Any] | None = field(default=None)


def check_output(path: Path, *, name: str, rules: OutputRules) -> list[Check]:
    """Run every automatic check on the output file at `path` (named `name` by the script)."""
    checks: list[Check] = []
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if suffix in rules.allowed_types:
        checks.append(Check("file_type", "pass", f".{suffix} is an allowed output type"))
    else:
        checks.append(Check("file_type", "fail", f".{suffix or '(none)'} is not allowed"))
    size = path.stat().st_size
    if size <= rules.max_bytes:
        checks.append(Check("file_size", "pass", f"{size} bytes"))
    else:
        checks.append(Check("file_size", "fail", f"{size} bytes is above {rules.max_bytes}"))
    text = path.read_bytes()[: rules.max_bytes].decode("utf-8", errors="ignore")
    if contains_cpr(text):
        checks.append(Check("cpr", "fail", "the file holds a CPR-like number"))
    else:
        checks.append(Check("cpr", "pass", "no CPR-like number"))
    return checks
