"""A dataset's conditions of use (GA4GH DUO and the purposes it allows), told in words.

Pure: takes the stored `data_use` and returns sentences in the reader's language (the catalog's
English for `en`), so an applicant reads what the codes demand before applying.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from marketplace.catalog.purposes import load_taxonomy
from marketplace.languages import N_, translate

# What each DUO permission allows, in the words of the DUO definitions.
PERMISSIONS: dict[str, str] = {
    "NRES": N_("Ingen begrænsninger på brugen"),
    "GRU": N_("Generel forskning: al sundheds-, biomedicinsk og anden forskning"),
    "HMB": N_("Sundheds- og biomedicinsk forskning"),
    "DS": N_("Kun forskning i bestemte sygdomme: {diseases}"),
    "POA": N_("Kun forskning i befolkningers oprindelse og afstamning"),
}

# What each DUO modifier adds; {argument} is the modifier's argument (TS:12 → 12).
MODIFIERS: dict[str, str] = {
    "NCU": N_("Ikke til kommerciel brug"),
    "NPU": N_("Kun til ikke-profitorienterede organisationer"),
    "NPUNCU": N_("Kun ikke-kommerciel brug i ikke-profitorienterede organisationer"),
    "NPOA": N_("Ikke til forskning i befolkningers oprindelse og afstamning"),
    "GS": N_("Kun i disse lande eller områder: {argument}"),
    "IS": N_("Kun for disse organisationer: {argument}"),
    "US": N_("Kun for disse brugere: {argument}"),
    "PS": N_("Kun til projektet {argument}"),
    "TS": N_("Adgangen gælder højst {argument} måneder"),
    "MOR": N_("Intet må offentliggøres før {argument}"),
    "IRB": N_("Kræver etisk godkendelse"),
    "COL": N_("Kræver samarbejde med dataholderen"),
    "PUB": N_("Resultaterne skal offentliggøres"),
    "RTN": N_("Resultaterne skal leveres tilbage til dataholderen"),
}


@dataclass(frozen=True)
class Condition:
    code: str
    template: str
    values: dict[str, str]

    def text(self, lang: str) -> str:
        return translate(self.template, lang, **self.values)


def describe_conditions(data_use: Mapping[str, Any] | None) -> list[Condition]:
    """The permission, each modifier and the allowed purposes as sentences; unknown codes are
    shown as they are rather than hidden."""
    use = data_use or {}
    permission = str(use.get("permission") or "GRU")
    diseases = ", ".join(use.get("diseases") or [])
    conditions = [Condition(permission, PERMISSIONS.get(permission, permission),
                            {"diseases": diseases} if permission in PERMISSIONS else {})]
    for modifier in use.get("modifiers") or []:
        code, _, argument = str(modifier).partition(":")
        conditions.append(Condition(code, MODIFIERS.get(code, code),
                                    {"argument": argument} if code in MODIFIERS else {}))
    purposes = use.get("purposes")
    if purposes:
        conditions.append(_PurposesCondition("purposes", N_("Kun til formålene: {purposes}"),
                                             {}, tuple(str(code) for code in purposes)))
    return conditions


@dataclass(frozen=True)
class _PurposesCondition(Condition):
    """The purposes are named in the reader's language from the taxonomy."""

    purposes: tuple[str, ...] = ()

    def text(self, lang: str) -> str:
        taxonomy = load_taxonomy()
        named = ", ".join(purpose.label(lang) if (purpose := taxonomy.get(code)) else code
                          for code in self.purposes)
        return translate(self.template, lang, purposes=named)
