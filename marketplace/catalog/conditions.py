"""A dataset's conditions of use (GA4GH DUO and the purposes it allows), told in words.

Pure: takes the stored `data_use` and returns sentences in Danish and English, so an applicant
reads what the codes demand before applying.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from marketplace.catalog.purposes import load_taxonomy

# What each DUO permission allows, in the words of the DUO definitions.
PERMISSIONS: dict[str, tuple[str, str]] = {
    "NRES": ("Ingen begrænsninger på brugen", "No restriction on use"),
    "GRU": ("Generel forskning: al sundheds-, biomedicinsk og anden forskning",
            "General research use: any health, biomedical or other research"),
    "HMB": ("Sundheds- og biomedicinsk forskning", "Health or medical or biomedical research"),
    "DS": ("Kun forskning i bestemte sygdomme: {diseases}",
           "Research on specific diseases only: {diseases}"),
    "POA": ("Kun forskning i befolkningers oprindelse og afstamning",
            "Population origins or ancestry research only"),
}

# What each DUO modifier adds; {argument} is the modifier's argument (TS:12 → 12).
MODIFIERS: dict[str, tuple[str, str]] = {
    "NCU": ("Ikke til kommerciel brug", "Not for commercial use"),
    "NPU": ("Kun til ikke-profitorienterede organisationer",
            "Only for not-for-profit organisations"),
    "NPUNCU": ("Kun ikke-kommerciel brug i ikke-profitorienterede organisationer",
               "Non-commercial use by not-for-profit organisations only"),
    "NPOA": ("Ikke til forskning i befolkningers oprindelse og afstamning",
             "No population origins or ancestry research"),
    "GS": ("Kun i disse lande eller områder: {argument}",
           "Only in these countries or regions: {argument}"),
    "IS": ("Kun for disse organisationer: {argument}", "Only for these institutions: {argument}"),
    "US": ("Kun for disse brugere: {argument}", "Only for these users: {argument}"),
    "PS": ("Kun til projektet {argument}", "Only for the project {argument}"),
    "TS": ("Adgangen gælder højst {argument} måneder", "Access for at most {argument} months"),
    "MOR": ("Intet må offentliggøres før {argument}", "Nothing may be published before {argument}"),
    "IRB": ("Kræver etisk godkendelse", "Ethics approval required"),
    "COL": ("Kræver samarbejde med dataholderen", "Collaboration with the data holder required"),
    "PUB": ("Resultaterne skal offentliggøres", "Results must be published"),
    "RTN": ("Resultaterne skal leveres tilbage til dataholderen",
            "Results must be returned to the data holder"),
}


@dataclass(frozen=True)
class Condition:
    code: str
    text_da: str
    text_en: str

    def text(self, lang: str) -> str:
        return self.text_en if lang == "en" else self.text_da


def describe_conditions(data_use: Mapping[str, Any] | None) -> list[Condition]:
    """The permission, each modifier and the allowed purposes as sentences; unknown codes are
    shown as they are rather than hidden."""
    use = data_use or {}
    permission = str(use.get("permission") or "GRU")
    diseases = ", ".join(use.get("diseases") or [])
    da, en = PERMISSIONS.get(permission, (permission, permission))
    conditions = [Condition(permission, da.format(diseases=diseases),
                            en.format(diseases=diseases))]
    for modifier in use.get("modifiers") or []:
        code, _, argument = str(modifier).partition(":")
        da, en = MODIFIERS.get(code, (code, code))
        conditions.append(Condition(code, da.format(argument=argument),
                                    en.format(argument=argument)))
    purposes = use.get("purposes")
    if purposes:
        taxonomy = load_taxonomy()
        named = [taxonomy.get(code) for code in purposes]
        conditions.append(Condition(
            "purposes",
            "Kun til formålene: " + ", ".join(p.label_da if p else c
                                             for p, c in zip(named, purposes, strict=True)),
            "Only for the purposes: " + ", ".join(p.label_en if p else c
                                                 for p, c in zip(named, purposes, strict=True))))
    return conditions
