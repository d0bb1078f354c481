"""Danish wording of the field errors an application can get, for the Danish form.

Pure module. The API answers in English (problem+json, the public contract); the browser form
shows the same errors in Danish unless the user chose English. A message without a Danish
wording here is shown as it is.
"""
from __future__ import annotations

import re

_DANISH = [(re.compile(pattern), danish) for pattern, danish in (
    (r"is required", "skal udfyldes"),
    (r"at most (\d+) characters", r"højst \1 tegn"),
    (r"must be text", "skal være tekst"),
    (r"remove CPR numbers from the text", "fjern CPR-numre fra teksten"),
    (r"must be true or false", "skal være ja eller nej"),
    (r"must be the id of a test environment", "skal være nummeret på et testmiljø"),
    (r"must be the id of a test course", "skal være nummeret på et testforløb"),
    (r"give the duration in whole days", "angiv varigheden i hele dage"),
    (r"must be between 1 and (\d+) days \(ten years\)", r"skal være mellem 1 og \1 dage (ti år)"),
    (r"name at least one dataset", "vælg mindst ét datasæt"),
    (r"at most (\d+) datasets per application", r"højst \1 datasæt pr. ansøgning"),
    (r"must be a dataset id", "skal være nummeret på et datasæt"),
    (r"dataset (\d+) is named twice", r"datasæt \1 er valgt to gange"),
    (r"name at least one column", "vælg mindst én kolonne"),
    (r"at most (\d+) columns per dataset", r"højst \1 kolonner pr. datasæt"),
    (r"column names are letters, digits and _", "kolonnenavne består af bogstaver, tal og _"),
    (r"a column is named twice", "en kolonne er valgt to gange"),
    (r"expected a list of ICD-10 codes", "angiv en liste af ICD-10-koder"),
    (r"at most (\d+) codes", r"højst \1 koder"),
    (r"not an ICD-10 code: (.*)", r"ikke en ICD-10-kode: \1"),
    (r"unknown criteria: (.*)", r"ukendte kriterier: \1"),
    (r"choose among male and female", "vælg mellem mand og kvinde"),
    (r"expected \[minimum, maximum\] in whole years", "angiv mindste og højeste alder i hele år"),
    (r"ages lie between 0 and 130, minimum first",
     "alder ligger mellem 0 og 130, den mindste først"),
    (r"expected at most (\d+) municipality codes", r"højst \1 kommunekoder"),
    (r"municipality codes have three digits, e\.g\. 101", "kommunekoder har tre cifre, fx 101"),
    (r"expected a date such as (\S+)", r"angiv en dato som \1"),
    (r"the period ends before it starts", "perioden slutter, før den begynder"),
    (r"choose a purpose from /api/v1/purposes", "vælg et formål"),
    (r"unknown purpose (.*); see /api/v1/purposes", r"ukendt formål \1"),
    (r"no published dataset (\d+)", r"intet udgivet datasæt med nummer \1"),
    (r"dataset (\d+) has no column (.*)", r"datasæt \1 har ingen kolonne \2"),
    (r"no test environment (\d+)", r"intet testmiljø med nummer \1"),
    (r"no test course (\d+)", r"intet testforløb med nummer \1"),
    (r"the test course runs in test environment (\d+), not (\d+)",
     r"testforløbet foregår i testmiljø \1, ikke \2"),
    (r"expected a list of at most (\d+) people", r"højst \1 personer"),
)]


def danish(message: str) -> str:
    """The Danish wording of an application field error (the message itself when unknown)."""
    for pattern, wording in _DANISH:
        match = pattern.fullmatch(message)
        if match:
            return match.expand(wording)
    return message


def danish_errors(errors: list[dict[str, str]]) -> list[dict[str, str]]:
    return [{**error, "message": danish(str(error.get("message", "")))} for error in errors]
