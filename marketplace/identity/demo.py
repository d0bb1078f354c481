"""The demo world: the real organisations of Greater Copenhagen and a synthetic population.

The population is deterministic for a seed, so every domain's demo data links through the same
CPR numbers (a Herlev admission and a municipal home-care record can belong to one person).
"""

from __future__ import annotations

import hashlib
import hmac
import random
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from marketplace.identity import services
from marketplace.identity.models import Citizen, Organisation
from marketplace.security import Keyring

# slug, name, kind, country, accredited, homepage
DEMO_ORGS: tuple[tuple[str, str, str, str, bool, str], ...] = (
    ("sundhedsdatastyrelsen", "Sundhedsdatastyrelsen", "national", "DK", True,
     "https://sundhedsdatastyrelsen.dk"),
    ("region-hovedstaden", "Region Hovedstaden", "regional", "DK", True, "https://www.regionh.dk"),
    ("herlev-hospital", "Herlev og Gentofte Hospital", "regional", "DK", True,
     "https://www.herlevhospital.dk"),
    ("rigshospitalet", "Rigshospitalet", "regional", "DK", True, "https://www.rigshospitalet.dk"),
    ("rigshospitalet-glostrup", "Rigshospitalet Glostrup", "regional", "DK", True,
     "https://www.rigshospitalet.dk/glostrup"),
    ("koebenhavns-kommune", "Københavns Kommune", "municipal", "DK", True, "https://www.kk.dk"),
    ("albertslund-kommune", "Albertslund Kommune", "municipal", "DK", True,
     "https://albertslund.dk"),
    ("broendby-kommune", "Brøndby Kommune", "municipal", "DK", True, "https://www.brondby.dk"),
    ("cames", "CAMES – Copenhagen Academy for Medical Education and Simulation", "test_host",
     "DK", True, "https://www.regionh.dk/cames"),
    ("vihtek", "VihTek – Videncenter for hjælpemidler og velfærdsteknologi", "test_host", "DK",
     True, "https://www.rigshospitalet.dk/vihtek"),
    ("iderige", "Idériget", "test_host", "DK", True, "https://www.regionh.dk/iderige"),
    ("doll", "DOLL – Danish Outdoor Lighting Lab", "test_host", "DK", True, "https://doll.dk"),
    ("pulmo-monitor", "Pulmo Monitor ApS", "company", "DK", True, "https://pulmo.example"),
    ("nordic-rehab-robotics", "Nordic Rehab Robotics A/S", "company", "DK", True,
     "https://rehabrobotics.example"),
    ("lumen-care", "Lumen Care ApS", "company", "DK", False, "https://lumencare.example"),
    ("medsim-vr", "MedSim VR ApS", "company", "DK", True, "https://medsimvr.example"),
    ("carebridge", "CareBridge GmbH", "company", "DE", True, "https://carebridge.example"),
    ("platform-operator", "Markedspladsens drift (Region Hovedstaden)", "operator", "DK", True,
     "https://www.regionh.dk"),
)

DEMO_CITIZEN_CPR = "0703851234"
DEMO_CHILD_CPR = "1204164321"

# sub, e-mail, name, org slug, role
DEMO_STAFF: tuple[tuple[str, str, str, str, str], ...] = (
    ("reviewer-herlev", "sagsbehandler@herlev.example", "Hanne Kjær", "herlev-hospital",
     "reviewer"),
    ("admin-albertslund", "data@albertslund.example", "Jonas Holm", "albertslund-kommune",
     "holder_admin"),
    ("company-pulmo", "lise@pulmo.example", "Lise Winther", "pulmo-monitor", "company_member"),
    ("admin-sds", "data@sds.example", "Peter Friis", "sundhedsdatastyrelsen", "holder_admin"),
    ("admin-regionh", "data@regionh.example", "Maria Lund", "region-hovedstaden", "holder_admin"),
    ("admin-herlev", "data@herlev.example", "Karen Bach", "herlev-hospital", "holder_admin"),
    # Two output checkers: a release from the secure processing environment needs both.
    ("checker-herlev", "outputkontrol@herlev.example", "Ida Møller", "herlev-hospital",
     "output_checker"),
    ("checker-herlev-2", "outputkontrol2@herlev.example", "Mads Lind", "herlev-hospital",
     "output_checker"),
    ("reviewer-rigs", "sagsbehandler@rigshospitalet.example", "Ole Dam", "rigshospitalet",
     "reviewer"),
    ("host-cames", "lab@cames.example", "Sara Brandt", "cames", "host_member"),
    ("host-doll", "lab@doll.example", "Emil Krogh", "doll", "host_member"),
    ("host-iderige", "lab@iderige.example", "Nanna Skov", "iderige", "host_member"),
    ("host-vihtek", "lab@vihtek.example", "Bo Thygesen", "vihtek", "host_member"),
    ("company-carebridge", "anna@carebridge.example", "Anna Weber", "carebridge",
     "company_member"),
    ("operator", "drift@regionh.example", "Drift Operatør", "platform-operator", "operator"),
)


def provider_claims() -> list[dict[str, object]]:
    """Claims the development sign-in provider holds for each demo user."""
    users: list[dict[str, object]] = [{
        "sub": "citizen-demo", "name": "Mette Hansen", "email": "mette@borger.example",
        "cpr": f"{DEMO_CITIZEN_CPR[:6]}-{DEMO_CITIZEN_CPR[6:]}",
        "children": [f"{DEMO_CHILD_CPR[:6]}-{DEMO_CHILD_CPR[6:]}"],
    }]
    users += [{"sub": sub, "email": email, "name": name} for sub, email, name, _o, _r in DEMO_STAFF]
    return users


# Municipality code, name, postcodes, relative population weight (Capital Region).
MUNICIPALITIES: tuple[tuple[int, str, tuple[str, ...], float], ...] = (
    (101, "København", ("1550", "2100", "2200", "2300", "2400", "2450", "2500"), 25.0),
    (147, "Frederiksberg", ("2000",), 4.0), (151, "Ballerup", ("2750",), 2.0),
    (153, "Brøndby", ("2605", "2660"), 1.5), (155, "Dragør", ("2791",), 0.5),
    (157, "Gentofte", ("2820", "2900"), 2.9), (159, "Gladsaxe", ("2860", "2880"), 2.7),
    (161, "Glostrup", ("2600",), 0.9), (163, "Herlev", ("2730",), 1.2),
    (165, "Albertslund", ("2620",), 1.1), (167, "Hvidovre", ("2650",), 2.2),
    (169, "Høje-Taastrup", ("2630",), 2.0), (173, "Lyngby-Taarbæk", ("2800",), 2.2),
    (175, "Rødovre", ("2610",), 1.6), (183, "Ishøj", ("2635",), 0.9),
    (185, "Tårnby", ("2770",), 1.8), (187, "Vallensbæk", ("2625",), 0.7),
    (190, "Furesø", ("3520",), 1.7), (201, "Allerød", ("3450",), 1.0),
    (210, "Fredensborg", ("3480",), 1.7), (217, "Helsingør", ("3000",), 2.6),
    (219, "Hillerød", ("3400",), 2.2), (223, "Hørsholm", ("2970",), 1.0),
    (230, "Rudersdal", ("2840",), 2.4), (240, "Egedal", ("3650",), 1.8),
    (250, "Frederikssund", ("3600",), 1.8), (260, "Halsnæs", ("3300",), 1.3),
    (270, "Gribskov", ("3200",), 1.7), (400, "Bornholm", ("3700",), 1.7),
)

_FIRST_F = ("Anne", "Mette", "Kirsten", "Hanne", "Anna", "Helle", "Susanne", "Lene", "Maria",
            "Marianne", "Camilla", "Louise", "Ida", "Emma", "Sofie", "Freja", "Laura", "Karen",
            "Inge", "Birgitte", "Signe", "Julie", "Nanna", "Rikke")
_FIRST_M = ("Peter", "Jens", "Michael", "Lars", "Henrik", "Thomas", "Søren", "Jan", "Niels",
            "Christian", "Martin", "Rasmus", "Anders", "Mads", "Frederik", "Oliver", "William",
            "Noah", "Lucas", "Emil", "Ole", "Bent", "Kasper", "Mikkel")
_LAST = ("Nielsen", "Jensen", "Hansen", "Pedersen", "Andersen", "Christensen", "Larsen",
         "Sørensen", "Rasmussen", "Jørgensen", "Petersen", "Madsen", "Kristensen", "Olsen",
         "Thomsen", "Christiansen", "Poulsen", "Johansen", "Møller", "Mortensen", "Holm",
         "Østergaard", "Lund", "Bach")
_STREETS = ("Nørrebrogade", "Vesterbrogade", "Amagerbrogade", "Jagtvej", "Roskildevej",
            "Hovedgaden", "Skolevej", "Kirkevej", "Bygaden", "Stationsvej", "Parkvej",
            "Egevej", "Birkevej", "Lindevej", "Søndergade", "Strandvejen", "Herlev Ringvej",
            "Kongevejen", "Vibevej", "Engvej")


def _century_digit(year: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Pick a seventh CPR digit consistent with the birth year (the CPR office's table)."""
    yy = year % 100
    digit = rng.integers(0, 4, size=year.shape)  # 0-3: always 1900s
    born_2000s = year >= 2000
    # 2000-2036: 4 or 9 (and 5-8); keep 4 and 9 for a realistic mix.
    digit = np.where(born_2000s, np.where(rng.random(year.shape) < 0.5, 4, 9), digit)
    late_1900s = (year < 2000) & (yy >= 37)
    digit = np.where(late_1900s & (rng.random(year.shape) < 0.2), 9, digit)
    return digit


def synthetic_population(n: int, seed: int = 2018, today: date | None = None) -> pd.DataFrame:
    """Return `n` synthetic citizens of the Capital Region with valid, realistic CPR numbers."""
    today = today or date(2026, 11, 1)
    rng = np.random.default_rng(seed)
    ages = np.clip(rng.gamma(shape=4.0, scale=10.5, size=n), 0, 101).astype(int)
    birth_days = np.array([np.datetime64(today)] * n) - (ages * 365.25 + rng.integers(0, 365, n)
                                                        ).astype("timedelta64[D]")
    births = pd.to_datetime(birth_days)
    sex = np.where(rng.random(n) < 0.505, "female", "male")
    century = _century_digit(births.year.to_numpy(), rng)
    serial = rng.integers(0, 100, size=n)
    last = rng.integers(0, 5, size=n) * 2 + (sex == "male")  # odd for men, even for women
    cpr = [
        f"{d:02d}{m:02d}{y % 100:02d}{c}{s:02d}{lst}"
        for d, m, y, c, s, lst in zip(births.day, births.month, births.year, century, serial,
                                      last, strict=True)
    ]
    weights = np.array([w for *_x, w in MUNICIPALITIES])
    muni_idx = rng.choice(len(MUNICIPALITIES), size=n, p=weights / weights.sum())
    postcodes = [MUNICIPALITIES[i][2][rng.integers(len(MUNICIPALITIES[i][2]))] for i in muni_idx]
    first = np.where(sex == "female", rng.choice(_FIRST_F, n), rng.choice(_FIRST_M, n))
    names = [f"{f} {surname}" for f, surname in zip(first, rng.choice(_LAST, n), strict=True)]
    streets = [f"{s} {k}" for s, k in zip(rng.choice(_STREETS, n), rng.integers(1, 180, n),
                                          strict=True)]
    population = pd.DataFrame({
        "cpr": cpr, "name": names, "address": streets, "postcode": postcodes,
        "municipality_code": [MUNICIPALITIES[i][0] for i in muni_idx],
        "birth_date": births.date, "sex": sex,
    })
    population = population.drop_duplicates("cpr", ignore_index=True)
    return _with_demo_family(population)


def _with_demo_family(population: pd.DataFrame) -> pd.DataFrame:
    """Put the demo citizen and her child first, so every demo dataset can include them."""
    family = pd.DataFrame({
        "cpr": [DEMO_CITIZEN_CPR, DEMO_CHILD_CPR], "name": ["Mette Hansen", "Oscar Hansen"],
        "address": ["Herlev Ringvej 12", "Herlev Ringvej 12"], "postcode": ["2730", "2730"],
        "municipality_code": [163, 163],
        "birth_date": [date(1985, 3, 7), date(2016, 4, 12)], "sex": ["female", "male"],
    })
    rest = population[~population["cpr"].isin(family["cpr"])]
    return pd.concat([family, rest.iloc[: max(0, len(population) - 2)]], ignore_index=True)


@dataclass
class DemoWorld:
    orgs: dict[str, Organisation]
    population: pd.DataFrame
    keyring: Keyring
    data_dir: Path
    seed: int = 2018
    today: date = field(default_factory=lambda: date(2026, 11, 1))
    rng: random.Random = field(default_factory=lambda: random.Random(2018))


def seed_orgs_and_users(session: Session) -> dict[str, Organisation]:
    """Create the demo organisations and staff users that are missing."""
    orgs: dict[str, Organisation] = {}
    for slug, name, kind, country, accredited, homepage in DEMO_ORGS:
        org = services.get_org(session, slug=slug) or services.create_org(
            session, slug=slug, name=name, kind=kind, country=country, accredited=accredited,
            homepage=homepage, email=f"kontakt@{slug}.example",
        )
        orgs[slug] = org
    for sub, email, name, org_slug, role in DEMO_STAFF:
        if services.get_user_by_sub(session, sub=sub) is None:
            services.add_user(session, sub=sub, email=email, name=name, org=orgs[org_slug],
                              role=role)
    return orgs


def seed_citizens(session: Session, *, keyring: Keyring, population: pd.DataFrame) -> pd.DataFrame:
    """Register every synthetic citizen (in bulk) and return the population with citizen ids."""
    key = keyring.blind_index_key
    indexes = [hmac.new(key, c.encode(), hashlib.sha256).hexdigest() for c in population["cpr"]]
    existing = dict(session.execute(select(Citizen.cpr_index, Citizen.id)).all())
    rows = [
        {"cpr_index": idx, "cpr_sealed": keyring.seal(cpr.encode(), context="citizen-cpr"),
         "name": name, "birth_date": born}
        for idx, cpr, name, born in zip(indexes, population["cpr"], population["name"],
                                        population["birth_date"], strict=True)
        if idx not in existing
    ]
    for start in range(0, len(rows), 5000):
        session.execute(insert(Citizen), rows[start:start + 5000])
    session.flush()
    ids = dict(session.execute(select(Citizen.cpr_index, Citizen.id)).all())
    population = population.copy()
    population["citizen_id"] = [ids[i] for i in indexes]
    return population
