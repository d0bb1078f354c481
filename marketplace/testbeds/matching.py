"""Explainable matching of a company's solution profile against test environments.

Pure module: plain dataclasses in, ranked matches with human reasons out. The score mixes the
structured fields (themes, target groups, needs, capacity, technology readiness, host coverage)
with text similarity over a bilingual concept vocabulary (vocabulary.json), weighted like
TF-IDF: the vocabulary says how specific a concept is, the index how rare it is among the
environments. Environments are analysed once when the index is built, so ranking a profile
costs one pass of set arithmetic and a sparse dot product per environment.
"""
from __future__ import annotations

import heapq
import itertools
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

from marketplace.languages import N_

VOCABULARY_PATH = Path(__file__).with_name("vocabulary.json")
MAX_DESCRIPTION_CHARS = 5_000
MAX_CODES = 20
TRL_RANGE = (1, 9)

# Points per component; a component the profile says nothing about is left out and the rest
# are rescaled, so a short profile is not punished for what it did not ask.
WEIGHTS = {
    "themes": 30.0,
    "text": 25.0,
    "target_groups": 10.0,
    "needs": 10.0,
    "available_data": 5.0,
    "capacity": 5.0,
    "trl": 5.0,
    "host_coverage": 10.0,
}
EXPLICIT = 1.0
INFERRED_THEME = 0.8
INFERRED_GROUP = 0.6

_WORD = re.compile(r"[0-9a-zæøåäöüéè]+")


@dataclass(frozen=True)
class Profile:
    """What a company says about its solution."""

    themes: frozenset[str] = frozenset()
    target_groups: frozenset[str] = frozenset()
    needs: frozenset[str] = frozenset()
    facilities: frozenset[str] = frozenset()
    trl: int | None = None
    description: str = ""


@dataclass(frozen=True)
class EnvironmentFacts:
    """What the matcher knows about one test environment."""

    id: int
    text: str
    themes: frozenset[str]
    target_groups: frozenset[str]
    resources: frozenset[str]
    facilities: frozenset[str]
    host_sectors: frozenset[str]
    dataset_count: int
    capacity: int
    free_slots: int
    trl_min: int
    trl_max: int


@dataclass(frozen=True)
class Reason:
    """One explained part of a score."""

    code: str
    fits: bool
    points: float
    max_points: float
    message_da: str
    message_en: str

    def message(self, lang: str) -> str:
        return self.message_en if lang == "en" else self.message_da


@dataclass(frozen=True)
class Match:
    environment_id: int
    score: float
    reasons: tuple[Reason, ...]


@dataclass(frozen=True)
class Concept:
    code: str
    label_da: str
    label_en: str
    weight: float
    themes: tuple[str, ...]
    target_groups: tuple[str, ...]


@dataclass
class Vocabulary:
    """Codes with Danish and English labels, and the concept terms of the text analysis."""

    themes: dict[str, dict]
    target_groups: dict[str, dict]
    needs: dict[str, dict]
    facilities: dict[str, dict]
    sectors: dict[str, dict]
    concepts: dict[str, Concept]
    _exact: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False)
    _phrases: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False)
    _prefix: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False)
    _suffix: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False)
    _infix: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, path: Path = VOCABULARY_PATH) -> Vocabulary:
        data = json.loads(path.read_text(encoding="utf-8"))
        concepts = {
            code: Concept(
                code=code,
                label_da=spec["da"],
                label_en=spec["en"],
                weight=float(spec["weight"]),
                themes=tuple(spec.get("themes", ())),
                target_groups=tuple(spec.get("target_groups", ())),
            )
            for code, spec in data["concepts"].items()
        }
        vocabulary = cls(
            themes=data["themes"],
            target_groups=data["target_groups"],
            needs=data["needs"],
            facilities=data["facilities"],
            sectors=data["sectors"],
            concepts=concepts,
        )
        for code, spec in data["concepts"].items():
            for term in spec["terms"]:
                vocabulary._add_term(term, code)
        vocabulary._check_references()
        return vocabulary

    def _add_term(self, term: str, concept: str) -> None:
        if " " in term or "-" in term:
            table, key = self._phrases, " ".join(_WORD.findall(term))
        elif term.startswith("*") and term.endswith("*"):
            table, key = self._infix, term.strip("*")
        elif term.endswith("*"):
            table, key = self._prefix, term[:-1]
        elif term.startswith("*"):
            table, key = self._suffix, term[1:]
        else:
            table, key = self._exact, term
        table[key] = (*table.get(key, ()), concept)

    def _check_references(self) -> None:
        for concept in self.concepts.values():
            unknown = set(concept.themes) - self.themes.keys()
            unknown |= set(concept.target_groups) - self.target_groups.keys()
            if unknown:
                raise ValueError(f"concept {concept.code} names unknown codes {sorted(unknown)}")

    def label(self, kind: str, code: str, lang: str) -> str:
        """The Danish or English label of a theme, target group, need, facility or sector."""
        entry = getattr(self, kind).get(code)
        if entry is None:
            return code
        return entry["en"] if lang == "en" else entry["da"]

    def labels(self, kind: str, codes: Iterable[str], lang: str) -> str:
        return ", ".join(self.label(kind, code, lang) for code in sorted(codes))

    def analyse(self, text: str) -> Counter[str]:
        """Count the concepts a Danish or English text mentions."""
        words = _WORD.findall(text.lower())
        counts: Counter[str] = Counter()
        for word in words:
            counts.update(self._word_concepts(word))
        for first, second in itertools.pairwise(words):
            counts.update(self._phrases.get(f"{first} {second}", ()))
        return counts

    def analyse_cached(self, text: str) -> Counter[str]:
        """`analyse`, remembered per text: environments keep their texts while their free
        slots change, and the index is rebuilt on every such change."""
        return Counter(dict(self._text_concepts(text)))

    @cached_property
    def _text_concepts(self):
        @lru_cache(maxsize=16_384)
        def text_concepts(text: str) -> tuple[tuple[str, int], ...]:
            return tuple(self.analyse(text).items())

        return text_concepts

    @cached_property
    def _word_concepts(self):
        @lru_cache(maxsize=65_536)
        def word_concepts(word: str) -> frozenset[str]:
            found = set(self._exact.get(word, ()))
            for end in range(3, len(word) + 1):
                found.update(self._prefix.get(word[:end], ()))
            # A suffix must leave a head word in front of it (Danish compounds: "døgnrytmelys").
            for start in range(2, len(word) - 1):
                found.update(self._suffix.get(word[start:], ()))
            for stem, concepts in self._infix.items():
                if stem in word:
                    found.update(concepts)
            return frozenset(found)

        return word_concepts

    def validate(self, profile: Profile) -> list[dict[str, Any]]:
        """Return the problems of a profile as [{"field", "message"}] (empty when valid).

        Messages are Danish source text; each keeps its template and values so that the edge
        shows it in the reader's language.
        """
        errors = []
        for name, known in (
            ("themes", self.themes),
            ("target_groups", self.target_groups),
            ("needs", self.needs),
            ("facilities", self.facilities),
        ):
            codes = getattr(profile, name)
            if len(codes) > MAX_CODES:
                errors.append(_problem(name, N_("højst {count} koder"), count=MAX_CODES))
            unknown = sorted(codes - known.keys())
            if unknown:
                errors.append(_problem(name, N_("ukendte koder: {codes}"),
                                       codes=", ".join(unknown)))
        if profile.trl is not None and not TRL_RANGE[0] <= profile.trl <= TRL_RANGE[1]:
            errors.append(_problem("trl", N_("teknologisk modenhed (TRL) skal være 1-9")))
        if len(profile.description) > MAX_DESCRIPTION_CHARS:
            errors.append(_problem("description", N_("højst {max_length} tegn"),
                                   max_length=MAX_DESCRIPTION_CHARS))
        if not (
            profile.themes or profile.target_groups or profile.needs or profile.facilities
            or profile.description.strip()
        ):
            errors.append(_problem("profile", N_("beskriv løsningen: temaer, målgrupper, behov "
                                                 "eller en beskrivelse")))
        return errors


def _problem(field: str, template: str, **values: Any) -> dict[str, Any]:
    return {"field": field, "message": template.format(**values), "template": template,
            "values": values}


def _tf(count: int) -> float:
    return 1.0 + math.log(count)


@dataclass(frozen=True)
class _ProfileView:
    """A profile prepared for scoring against many environments."""

    theme_weights: dict[str, float]
    group_weights: dict[str, float]
    vector: dict[str, float]
    norm: float
    sectors: frozenset[str]
    needs: frozenset[str]
    facilities: frozenset[str]
    trl: int | None


class EnvironmentIndex:
    """Test environments analysed once, ready to rank many profiles."""

    def __init__(self, vocabulary: Vocabulary, environments: Sequence[EnvironmentFacts]):
        self.vocabulary = vocabulary
        self.environments = list(environments)
        counts = [vocabulary.analyse_cached(env.text) for env in self.environments]
        document_frequency: Counter[str] = Counter()
        for concept_counts in counts:
            document_frequency.update(concept_counts.keys())
        total = len(self.environments)
        self.idf = {
            code: math.log((total + 1) / (document_frequency[code] + 1)) + 1.0
            for code in vocabulary.concepts
        }
        self.vectors = [self._weigh(concept_counts) for concept_counts in counts]
        self.norms = [math.sqrt(sum(v * v for v in vector.values())) for vector in self.vectors]

    def _weigh(self, counts: Counter[str]) -> dict[str, float]:
        concepts = self.vocabulary.concepts
        return {
            code: _tf(count) * concepts[code].weight * self.idf[code]
            for code, count in counts.items()
        }

    def prepare(self, profile: Profile) -> _ProfileView:
        concepts = self.vocabulary.concepts
        counts = self.vocabulary.analyse(profile.description)
        theme_evidence: dict[str, float] = {}
        group_evidence: dict[str, float] = {}
        for code, count in counts.items():
            strength = _tf(count) * concepts[code].weight
            for theme in concepts[code].themes:
                theme_evidence[theme] = theme_evidence.get(theme, 0.0) + strength
            for group in concepts[code].target_groups:
                group_evidence[group] = group_evidence.get(group, 0.0) + strength
        theme_weights = {t: INFERRED_THEME * min(1.0, e / 3.0) for t, e in theme_evidence.items()}
        theme_weights.update(dict.fromkeys(profile.themes, EXPLICIT))
        group_weights = {g: INFERRED_GROUP * min(1.0, e / 2.0) for g, e in group_evidence.items()}
        group_weights.update(dict.fromkeys(profile.target_groups, EXPLICIT))
        vector = self._weigh(counts)
        needs_table = self.vocabulary.needs
        sectors = frozenset(
            needs_table[need]["sector"] for need in profile.needs if needs_table[need]["sector"]
        )
        return _ProfileView(
            theme_weights=theme_weights,
            group_weights=group_weights,
            vector=vector,
            norm=math.sqrt(sum(v * v for v in vector.values())),
            sectors=sectors,
            needs=profile.needs,
            facilities=profile.facilities,
            trl=profile.trl,
        )

    def rank(self, profile: Profile, *, limit: int | None = None) -> list[Match]:
        """Rank the environments for a profile, best first, with reasons for the top `limit`."""
        view = self.prepare(profile)
        scored = (
            (self._score(view, position), position) for position in range(len(self.environments))
        )
        if limit is None:
            best = sorted(scored, key=lambda item: (-item[0], self.environments[item[1]].id))
        else:
            best = heapq.nsmallest(
                limit, scored, key=lambda item: (-item[0], self.environments[item[1]].id)
            )
        # Reasons are only spelled out for the matches that will be shown.
        return [
            Match(
                environment_id=self.environments[position].id,
                score=round(score, 1),
                reasons=tuple(self._reasons(view, position)),
            )
            for score, position in best
        ]

    def _similarity(self, view: _ProfileView, position: int) -> float:
        if not view.norm or not self.norms[position]:
            return 0.0
        vector = self.vectors[position]
        dot = sum(weight * vector.get(code, 0.0) for code, weight in view.vector.items())
        # Rescaled: short profile texts rarely exceed a cosine of 0.6 even when they fit well.
        return min(1.0, dot / (view.norm * self.norms[position]) / 0.6)

    def _components(self, view: _ProfileView, position: int) -> dict[str, tuple[float, float]]:
        """Return {component: (achieved share 0..1, weight)} for the components in play."""
        env = self.environments[position]
        parts: dict[str, tuple[float, float]] = {}
        if view.theme_weights:
            total = sum(view.theme_weights.values())
            shared = sum(w for t, w in view.theme_weights.items() if t in env.themes)
            parts["themes"] = (shared / total, WEIGHTS["themes"])
        if view.norm:
            parts["text"] = (self._similarity(view, position), WEIGHTS["text"])
        if view.group_weights:
            total = sum(view.group_weights.values())
            shared = sum(w for g, w in view.group_weights.items() if g in env.target_groups)
            parts["target_groups"] = (shared / total, WEIGHTS["target_groups"])
        wanted = (view.needs - {"data"}) | view.facilities
        if wanted:
            parts["needs"] = (len(self._met(env, wanted)) / len(wanted), WEIGHTS["needs"])
        if "data" in view.needs:
            parts["available_data"] = (float(self._offers_data(env)), WEIGHTS["available_data"])
        parts["capacity"] = (1.0 if env.free_slots > 0 else 0.0, WEIGHTS["capacity"])
        if view.trl is not None:
            parts["trl"] = (self._trl_fit(env, view.trl), WEIGHTS["trl"])
        parts["host_coverage"] = (self._coverage(env, view.sectors), WEIGHTS["host_coverage"])
        return parts

    def _score(self, view: _ProfileView, position: int) -> float:
        parts = self._components(view, position).values()
        return 100.0 * sum(share * weight for share, weight in parts) / sum(w for _, w in parts)

    @staticmethod
    def _offers_data(env: EnvironmentFacts) -> bool:
        return "data" in env.resources or env.dataset_count > 0

    @staticmethod
    def _met(env: EnvironmentFacts, wanted: frozenset[str]) -> set[str]:
        offered = env.resources | env.facilities
        if env.facilities:
            offered = offered | {"facilities"}
        return {code for code in wanted if code in offered}

    @staticmethod
    def _trl_fit(env: EnvironmentFacts, trl: int) -> float:
        distance = max(env.trl_min - trl, trl - env.trl_max, 0)
        return {0: 1.0, 1: 0.5}.get(distance, 0.0)

    @staticmethod
    def _coverage(env: EnvironmentFacts, sectors: frozenset[str]) -> float:
        if sectors:
            return len(sectors & env.host_sectors) / len(sectors)
        # Nothing asked for: cross-sector environments (hospital and municipality) rank first.
        return 1.0 if {"hospital", "municipality"} <= env.host_sectors else 0.5

    def _reasons(self, view: _ProfileView, position: int) -> list[Reason]:
        env = self.environments[position]
        explain = _Explainer(self.vocabulary, view, env, self.vectors[position])
        return [
            getattr(explain, code)(share * weight, weight)
            for code, (share, weight) in self._components(view, position).items()
        ]


@dataclass
class _Explainer:
    """Turns a score component into a sentence in Danish and English."""

    vocabulary: Vocabulary
    view: _ProfileView
    env: EnvironmentFacts
    env_vector: dict[str, float]

    def _reason(self, code, points, weight, fits, da, en) -> Reason:
        return Reason(code, fits, round(points, 1), weight, da, en)

    def themes(self, points, weight) -> Reason:
        shared = {t for t in self.view.theme_weights if t in self.env.themes}
        if shared:
            return self._reason(
                "themes", points, weight, True,
                "Fælles temaer: " + self.vocabulary.labels("themes", shared, "da"),
                "Shared themes: " + self.vocabulary.labels("themes", shared, "en"),
            )
        return self._reason(
            "themes", points, weight, False,
            "Ingen fælles temaer; miljøet arbejder med "
            + self.vocabulary.labels("themes", self.env.themes, "da"),
            "No shared themes; the environment works with "
            + self.vocabulary.labels("themes", self.env.themes, "en"),
        )

    def text(self, points, weight) -> Reason:
        vector = self.env_vector
        contributions = {
            code: w * vector[code] for code, w in self.view.vector.items() if code in vector
        }
        top = sorted(contributions, key=lambda code: -contributions[code])[:4]
        concepts = self.vocabulary.concepts
        if top:
            return self._reason(
                "text", points, weight, points >= weight / 3,
                "Beskrivelsen passer til miljøet: "
                + ", ".join(concepts[c].label_da for c in top),
                "The description fits the environment: "
                + ", ".join(concepts[c].label_en for c in top),
            )
        return self._reason(
            "text", points, weight, False,
            "Beskrivelsen har ingen nøgleord til fælles med miljøet",
            "The description shares no key words with the environment",
        )

    def target_groups(self, points, weight) -> Reason:
        shared = {g for g in self.view.group_weights if g in self.env.target_groups}
        missing = {g for g in self.view.group_weights if g not in self.env.target_groups}
        if shared:
            da = "Målgruppe dækket: " + self.vocabulary.labels("target_groups", shared, "da")
            en = "Target group covered: " + self.vocabulary.labels("target_groups", shared, "en")
            return self._reason("target_groups", points, weight, True, da, en)
        return self._reason(
            "target_groups", points, weight, False,
            "Miljøet arbejder ikke med " + self.vocabulary.labels("target_groups", missing, "da"),
            "The environment does not work with "
            + self.vocabulary.labels("target_groups", missing, "en"),
        )

    def _need_labels(self, codes, lang) -> str:
        names = [
            self.vocabulary.label("needs" if code in self.vocabulary.needs else "facilities",
                                  code, lang)
            for code in sorted(codes)
        ]
        return ", ".join(names)

    def needs(self, points, weight) -> Reason:
        wanted = (self.view.needs - {"data"}) | self.view.facilities
        met = EnvironmentIndex._met(self.env, wanted)
        missing = wanted - met
        da, en = [], []
        if met:
            da.append("Miljøet kan stille med " + self._need_labels(met, "da"))
            en.append("The environment can provide " + self._need_labels(met, "en"))
        if missing:
            da.append("mangler " + self._need_labels(missing, "da"))
            en.append("missing " + self._need_labels(missing, "en"))
        return self._reason("needs", points, weight, not missing, "; ".join(da), "; ".join(en))

    def available_data(self, points, weight) -> Reason:
        count = self.env.dataset_count
        if count:
            return self._reason(
                "available_data", points, weight, True,
                f"{count} datasæt i kataloget hører til miljøet",
                f"{count} catalogue dataset(s) belong to the environment",
            )
        if "data" in self.env.resources:
            return self._reason(
                "available_data", points, weight, True,
                "Miljøet stiller data til rådighed",
                "The environment provides data",
            )
        return self._reason(
            "available_data", points, weight, False,
            "Miljøet har ingen datasæt i kataloget",
            "The environment has no datasets in the catalogue",
        )

    def capacity(self, points, weight) -> Reason:
        free, total = self.env.free_slots, self.env.capacity
        if free > 0:
            return self._reason(
                "capacity", points, weight, True,
                f"{free} ledige pladser i år (af {total})",
                f"{free} free slots this year (of {total})",
            )
        return self._reason(
            "capacity", points, weight, False,
            f"Ingen ledige pladser i år (kapacitet {total})",
            f"No free slots this year (capacity {total})",
        )

    def trl(self, points, weight) -> Reason:
        # Only asked for when the profile gives its readiness level (see the scoring above).
        trl, low, high = self.view.trl or 0, self.env.trl_min, self.env.trl_max
        if low <= trl <= high:
            return self._reason(
                "trl", points, weight, True,
                f"TRL {trl} ligger i miljøets interval {low}-{high}",
                f"TRL {trl} lies in the environment's range {low}-{high}",
            )
        side_da, side_en = ("under", "below") if trl < low else ("over", "above")
        return self._reason(
            "trl", points, weight, False,
            f"TRL {trl} er {side_da} miljøets interval {low}-{high}",
            f"TRL {trl} is {side_en} the environment's range {low}-{high}",
        )

    def host_coverage(self, points, weight) -> Reason:
        hosts_da = self.vocabulary.labels("sectors", self.env.host_sectors, "da")
        hosts_en = self.vocabulary.labels("sectors", self.env.host_sectors, "en")
        sectors = self.view.sectors
        if sectors:
            missing = sectors - self.env.host_sectors
            if not missing:
                return self._reason(
                    "host_coverage", points, weight, True,
                    "Værterne dækker det, løsningen har brug for: " + hosts_da,
                    "The hosts cover what the solution needs: " + hosts_en,
                )
            return self._reason(
                "host_coverage", points, weight, False,
                "Løsningen har brug for "
                + self.vocabulary.labels("sectors", missing, "da")
                + ", men værterne er " + hosts_da,
                "The solution needs " + self.vocabulary.labels("sectors", missing, "en")
                + ", but the hosts are " + hosts_en,
            )
        cross = {"hospital", "municipality"} <= self.env.host_sectors
        return self._reason(
            "host_coverage", points, weight, cross,
            ("Tværsektorielt miljø: " if cross else "Værter: ") + hosts_da,
            ("Cross-sector environment: " if cross else "Hosts: ") + hosts_en,
        )
