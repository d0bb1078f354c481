"""The screening model: must-meet knock-outs and weighted should-meet criteria (pure).

The model is data (policies/screening-model.json), checked against the schema below when the app
starts: a model that does not validate stops start-up, like the access policies. Scores are
stored with the model's version, weights and reasons, so a later model cannot rewrite history.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from marketplace.growth.models import STAGES
from marketplace.languages import N_

MODEL_FILE = "screening-model.json"
DECIDER_ROLES = ("secretariat", "steering_group")
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class ScreeningModelError(ValueError):
    """The screening model file does not match its schema."""


@dataclass(frozen=True)
class MustMeet:
    key: str
    label_da: str
    label_en: str
    help_da: str
    help_en: str

    def label(self, lang: str) -> str:
        return self.label_en if lang == "en" else self.label_da

    def help(self, lang: str) -> str:
        return self.help_en if lang == "en" else self.help_da


@dataclass(frozen=True)
class ShouldMeet(MustMeet):
    weight: float
    low: int
    high: int


@dataclass(frozen=True)
class ScreeningModel:
    version: str
    must_meet: tuple[MustMeet, ...]
    should_meet: tuple[ShouldMeet, ...]
    must_meet_from: str
    gates: Mapping[str, tuple[str, ...]]

    def criterion(self, key: str) -> ShouldMeet | None:
        return next((c for c in self.should_meet if c.key == key), None)

    def deciders(self, to_stage: str) -> tuple[str, ...]:
        """The roles that may decide the move into `to_stage` (the steering group by default)."""
        return self.gates.get(to_stage, ("steering_group",))

    def needs_must_meet(self, to_stage: str) -> bool:
        return to_stage in STAGES and STAGES.index(to_stage) >= STAGES.index(self.must_meet_from)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "must_meet": [{"key": c.key, "label_da": c.label_da, "label_en": c.label_en,
                           "help_da": c.help_da, "help_en": c.help_en} for c in self.must_meet],
            "should_meet": [{"key": c.key, "label_da": c.label_da, "label_en": c.label_en,
                             "help_da": c.help_da, "help_en": c.help_en, "weight": c.weight,
                             "scale": {"min": c.low, "max": c.high}} for c in self.should_meet],
            "must_meet_from": self.must_meet_from,
            "gates": {stage: list(roles) for stage, roles in self.gates.items()},
        }


def _text(entry: Mapping[str, Any], name: str, where: str) -> str:
    value = entry.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ScreeningModelError(f"{where}: {name} must be non-empty text")
    return value


def _criterion(entry: Any, where: str) -> dict[str, Any]:
    if not isinstance(entry, dict):
        raise ScreeningModelError(f"{where}: must be an object")
    key = entry.get("key")
    if not isinstance(key, str) or not _KEY.match(key):
        raise ScreeningModelError(f"{where}: key must be a lower-case code")
    return {"key": key, **{name: _text(entry, name, f"{where} ({key})")
                           for name in ("label_da", "label_en", "help_da", "help_en")}}


def parse_model(data: Any) -> ScreeningModel:
    """Check the model's structure and return it; raises ScreeningModelError naming the fault."""
    if not isinstance(data, dict):
        raise ScreeningModelError("the screening model must be a JSON object")
    version = _text(data, "version", "model")
    musts, shoulds = data.get("must_meet"), data.get("should_meet")
    if not isinstance(musts, list) or not musts:
        raise ScreeningModelError("must_meet must be a non-empty list")
    if not isinstance(shoulds, list) or not shoulds:
        raise ScreeningModelError("should_meet must be a non-empty list")
    must_meet = tuple(MustMeet(**_criterion(e, f"must_meet[{i}]")) for i, e in enumerate(musts))
    should_meet = []
    for i, entry in enumerate(shoulds):
        base = _criterion(entry, f"should_meet[{i}]")
        weight, scale = entry.get("weight"), entry.get("scale")
        if (isinstance(weight, bool) or not isinstance(weight, int | float)
                or not math.isfinite(weight) or weight <= 0):
            raise ScreeningModelError(f"should_meet[{i}]: weight must be a positive number")
        if not isinstance(scale, dict) or not all(
                isinstance(scale.get(b), int) and not isinstance(scale.get(b), bool)
                for b in ("min", "max")) or scale["min"] >= scale["max"]:
            raise ScreeningModelError(f"should_meet[{i}]: scale must be {{min, max}} integers, "
                                      "min below max")
        should_meet.append(ShouldMeet(**base, weight=float(weight), low=scale["min"],
                                      high=scale["max"]))
    keys = [c.key for c in must_meet] + [c.key for c in should_meet]
    if len(keys) != len(set(keys)):
        raise ScreeningModelError("criterion keys must be unique")
    must_meet_from = data.get("must_meet_from", STAGES[2])
    if must_meet_from not in STAGES:
        raise ScreeningModelError("must_meet_from must be a stage")
    gates_data = data.get("gates", {})
    if not isinstance(gates_data, dict):
        raise ScreeningModelError("gates must map stages to deciding roles")
    gates: dict[str, tuple[str, ...]] = {}
    for stage, roles in gates_data.items():
        if stage not in STAGES[1:]:
            raise ScreeningModelError(f"gates: {stage!r} is not a stage one moves into")
        if (not isinstance(roles, list) or not roles
                or any(role not in DECIDER_ROLES for role in roles)):
            raise ScreeningModelError(f"gates.{stage}: roles must be among {DECIDER_ROLES}")
        gates[stage] = tuple(roles)
    return ScreeningModel(version=version, must_meet=must_meet, should_meet=tuple(should_meet),
                          must_meet_from=must_meet_from, gates=gates)


def load_model(policies_dir: Path) -> ScreeningModel:
    """Read and check the screening model; raises ScreeningModelError (start-up fails closed)."""
    path = policies_dir / MODEL_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ScreeningModelError(f"cannot read {path}: {error}") from error
    return parse_model(data)


@dataclass(frozen=True)
class Scorecard:
    """Scores with their weights and reasons, the must-meet answers and the weighted total."""

    model_version: str
    scores: dict[str, dict[str, Any]]
    must_meet: dict[str, dict[str, Any]]
    total: float | None
    knocked_out: bool
    errors: tuple[tuple[str, str, dict[str, Any]], ...]  # (field, Danish message, values)


def score(model: ScreeningModel, *, scores: Mapping[str, Any], must_meet: Mapping[str, Any],
          reasons: Mapping[str, str], to_stage: str) -> Scorecard:
    """Check and weigh a recommendation's scores against the model.

    The total is the weighted mean of the given scores, each put on 0..100 by its scale. A
    must-meet criterion answered "no" knocks the opportunity out; from `must_meet_from` on,
    every must-meet criterion needs an answer.
    """
    errors: list[tuple[str, str, dict[str, Any]]] = []
    stored: dict[str, dict[str, Any]] = {}
    weighted = weights = 0.0
    for key, value in scores.items():
        criterion = model.criterion(key)
        if criterion is None:
            errors.append((f"scores.{key}", N_("kendes ikke i screeningsmodellen"), {}))
            continue
        if (isinstance(value, bool) or not isinstance(value, int | float)
                or not math.isfinite(value) or value != int(value)):
            errors.append((f"scores.{key}", "skal være et helt tal", {}))
            continue
        if not criterion.low <= value <= criterion.high:
            errors.append((f"scores.{key}", N_("skal ligge på skalaen {low}–{high}"),
                           {"low": criterion.low, "high": criterion.high}))
            continue
        stored[key] = {"value": int(value), "weight": criterion.weight,
                       "scale": [criterion.low, criterion.high], "reason": reasons.get(key, "")}
        weighted += criterion.weight * (value - criterion.low) / (criterion.high - criterion.low)
        weights += criterion.weight
    known_musts = {c.key for c in model.must_meet}
    answers: dict[str, dict[str, Any]] = {}
    for key, met in must_meet.items():
        if key not in known_musts:
            errors.append((f"must_meet.{key}", N_("kendes ikke i screeningsmodellen"), {}))
        elif not isinstance(met, bool):
            errors.append((f"must_meet.{key}", N_("skal være sand eller falsk"), {}))
        else:
            answers[key] = {"met": met, "reason": reasons.get(key, "")}
    for key in reasons:
        if key not in known_musts and model.criterion(key) is None:
            errors.append((f"reasons.{key}", N_("kendes ikke i screeningsmodellen"), {}))
    if model.needs_must_meet(to_stage):
        for key in sorted(known_musts - set(must_meet)):
            errors.append((f"must_meet.{key}", N_("skal besvares ved denne port"), {}))
    return Scorecard(
        model_version=model.version, scores=stored, must_meet=answers,
        total=round(100 * weighted / weights, 1) if weights else None,
        knocked_out=any(not answer["met"] for answer in answers.values()),
        errors=tuple(errors),
    )
