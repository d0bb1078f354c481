"""Demo content of the catalog domain: realistic synthetic datasets from the demo holders.

Every dataset is drawn from the demo world's population, so the same CPR number links a
national register contact, a Herlev admission and a municipal home-care record. The data goes
through the real upload path (validation, encryption, subject keys) and is then published.
"""
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.catalog import services
from marketplace.catalog import vocabulary as voc
from marketplace.catalog.descriptor import Descriptor
from marketplace.catalog.models import Dataset, DatasetTag
from marketplace.identity.demo import MUNICIPALITIES, DemoWorld
from marketplace.identity.models import Organisation
from marketplace.identity.principal import Principal

BULK_MARK = "[syntetisk katalogpost]"

CPR = {"name": "cpr", "type": "string", "role": "direct_identifier", "identifier_kind": "cpr",
       "required": True, "description": "Borgerens CPR-nummer"}
NAME = {"name": "name", "type": "string", "role": "direct_identifier", "identifier_kind": "name",
        "description": "Navn"}
ADDRESS = {"name": "address", "type": "string", "role": "direct_identifier",
           "identifier_kind": "address", "description": "Adresse"}
BIRTH = {"name": "birth_date", "type": "date", "role": "quasi_identifier", "concept": "birth_date",
         "generalise": {"kind": "date", "to": "year"}, "minimum": "1900-01-01",
         "maximum": "2026-12-31", "required": True, "description": "Fødselsdato"}
SEX = {"name": "sex", "type": "category", "role": "quasi_identifier", "concept": "sex",
       "code_system": "sex", "required": True, "description": "Køn"}
POSTCODE = {"name": "postcode", "type": "category", "role": "quasi_identifier",
            "concept": "postcode", "code_system": "postcode",
            "generalise": {"kind": "postcode", "to": "municipality"}, "description": "Postnummer"}
MUNICIPALITY = {"name": "municipality_code", "type": "category", "role": "quasi_identifier",
                "concept": "municipality", "code_system": "municipality",
                "description": "Bopælskommune (kode)"}


def _date_column(name: str, description: str, *, event: bool = False) -> dict:
    column = {"name": name, "type": "date", "role": "quasi_identifier",
              "generalise": {"kind": "date", "to": "month"}, "minimum": "2015-01-01",
              "maximum": "2026-12-31", "description": description}
    return column | ({"concept": "event_date", "required": True} if event else {})


def _home_care_columns() -> list[dict]:
    """The column dictionary both municipal home-care registers share."""
    return [CPR, NAME, ADDRESS, BIRTH, SEX, POSTCODE,
            _date_column("visitation_date", "Visitationsdato", event=True),
            {"name": "service_type", "type": "category", "role": "attribute",
             "allowed_values": ["personlig pleje", "praktisk hjælp", "sygepleje", "madservice"],
             "description": "Ydelse"},
            {"name": "hours_per_week", "type": "number", "role": "attribute",
             "minimum": 0, "maximum": 60, "description": "Timer pr. uge"},
            {"name": "fall_incidents", "type": "integer", "role": "sensitive",
             "minimum": 0, "maximum": 100, "description": "Faldhændelser"},
            _diagnosis("Hoveddiagnose (SKS)")]


def _diagnosis(description: str) -> dict:
    return {"name": "diagnosis", "type": "string", "role": "sensitive", "concept": "diagnosis",
            "code_system": "icd10", "required": True, "l_diversity": 2,
            "description": description}


@dataclass(frozen=True)
class DemoDataset:
    holder: str
    descriptor: dict
    rows: Callable[[DemoWorld, np.random.Generator], pd.DataFrame]


def _people(world: DemoWorld, rng: np.random.Generator, share: float, *,
            municipality: int | None = None, minimum: int = 30) -> pd.DataFrame:
    """A sample of the population (the demo citizen always included), older people likelier."""
    population = world.population
    pool = population if municipality is None else population[
        population["municipality_code"] == municipality]
    if len(pool) < minimum:  # small demo worlds: add people who moved in
        pool = pd.concat([pool, population.drop(pool.index).head(minimum - len(pool))])
    ages = (pd.Timestamp(world.today) - pd.to_datetime(pool["birth_date"])).dt.days / 365.25
    weight = (ages.clip(lower=1) ** 1.5).to_numpy()
    size = max(min(len(pool), 3), int(len(pool) * share))
    chosen = rng.choice(len(pool), size=size, replace=False, p=weight / weight.sum())
    people = pool.iloc[np.sort(chosen)]
    first = population.iloc[:1]
    if municipality in (None, int(first["municipality_code"].iloc[0])) and \
            first.index[0] not in people.index:
        people = pd.concat([first, people])
    return people.reset_index(drop=True)


def _dates(rng: np.random.Generator, n: int, start: date, end: date) -> np.ndarray:
    span = (end - start).days
    return np.array([start + timedelta(days=int(d)) for d in rng.integers(0, span, n)])


def _repeat(people: pd.DataFrame, rng: np.random.Generator, most: int) -> pd.DataFrame:
    return people.loc[people.index.repeat(rng.integers(1, most + 1, len(people)))].reset_index(
        drop=True)


def _national_register(world: DemoWorld, rng: np.random.Generator) -> pd.DataFrame:
    rows = _repeat(_people(world, rng, 0.6), rng, 3)
    n = len(rows)
    codes = np.array(["DJ441", "DJ449", "DI500", "DI509", "DE119", "DI639", "DS720", "DC509",
                      "DF329", "DM179", "DI219", "DN390"])
    return pd.DataFrame({
        "cpr": rows["cpr"], "birth_date": rows["birth_date"], "sex": rows["sex"],
        "municipality_code": rows["municipality_code"].astype(str),
        "contact_date": _dates(rng, n, date(2015, 1, 1), date(2026, 10, 31)),
        "diagnosis": rng.choice(codes, n),
        "contact_type": rng.choice(["ambulant", "indlagt", "akut"], n, p=[0.6, 0.25, 0.15]),
        "length_of_stay_days": rng.integers(0, 21, n),
    })


def _herlev_admissions(world: DemoWorld, rng: np.random.Generator) -> pd.DataFrame:
    rows = _repeat(_people(world, rng, 0.08), rng, 3)
    n = len(rows)
    admitted = _dates(rng, n, date(2019, 1, 1), date(2026, 9, 30))
    copd = rng.random(n) < 0.55
    return pd.DataFrame({
        "cpr": rows["cpr"], "name": rows["name"], "address": rows["address"],
        "birth_date": rows["birth_date"], "sex": rows["sex"], "postcode": rows["postcode"],
        "admission_date": admitted,
        "discharge_date": admitted + np.array([timedelta(days=int(d))
                                               for d in rng.integers(1, 15, n)]),
        "diagnosis": np.where(copd, rng.choice(["DJ441", "DJ449", "DJ440"], n),
                              rng.choice(["DI500", "DI501", "DI509"], n)),
        "readmitted_30d": rng.choice(["ja", "nej"], n, p=[0.22, 0.78]),
        "fev1_percent": np.where(copd, np.round(rng.normal(48, 14, n).clip(12, 110), 1), np.nan),
    })


def _rigshospitalet_heart(world: DemoWorld, rng: np.random.Generator) -> pd.DataFrame:
    rows = _people(world, rng, 0.05)
    n = len(rows)
    return pd.DataFrame({
        "cpr": rows["cpr"], "birth_date": rows["birth_date"], "sex": rows["sex"],
        "postcode": rows["postcode"],
        "referral_date": _dates(rng, n, date(2020, 1, 1), date(2026, 9, 30)),
        "diagnosis": rng.choice(["DI500", "DI501", "DI509", "DI110"], n),
        "ejection_fraction": rng.integers(15, 60, n),
        "home_monitoring": rng.choice(["ja", "nej"], n, p=[0.4, 0.6]),
        "nyha_class": rng.choice(["I", "II", "III", "IV"], n, p=[0.2, 0.4, 0.3, 0.1]),
    })


def _home_care(municipality: int) -> Callable[[DemoWorld, np.random.Generator], pd.DataFrame]:
    def rows_for(world: DemoWorld, rng: np.random.Generator) -> pd.DataFrame:
        rows = _repeat(_people(world, rng, 0.25, municipality=municipality), rng, 2)
        n = len(rows)
        return pd.DataFrame({
            "cpr": rows["cpr"], "name": rows["name"], "address": rows["address"],
            "birth_date": rows["birth_date"], "sex": rows["sex"], "postcode": rows["postcode"],
            "visitation_date": _dates(rng, n, date(2018, 1, 1), date(2026, 10, 31)),
            "service_type": rng.choice(["personlig pleje", "praktisk hjælp", "sygepleje",
                                        "madservice"], n),
            "hours_per_week": np.round(rng.gamma(2.0, 2.5, n).clip(0.5, 40), 1),
            "fall_incidents": rng.poisson(0.6, n),
            "diagnosis": rng.choice(["DJ449", "DI509", "DE119", "DF009", "DM179"], n),
        })
    return rows_for


def _rehabilitation(world: DemoWorld, rng: np.random.Generator) -> pd.DataFrame:
    rows = _people(world, rng, 0.3, municipality=153)
    n = len(rows)
    start = _dates(rng, n, date(2019, 1, 1), date(2026, 8, 31))
    barthel = rng.integers(20, 80, n)
    return pd.DataFrame({
        "cpr": rows["cpr"], "birth_date": rows["birth_date"], "sex": rows["sex"],
        "postcode": rows["postcode"], "start_date": start,
        "end_date": start + np.array([timedelta(days=int(d)) for d in rng.integers(14, 120, n)]),
        "diagnosis": rng.choice(["DS720", "DI639", "DM169", "DM179", "DJ449"], n),
        "training_type": rng.choice(["holdtræning", "individuel", "robotassisteret",
                                     "hjemmetræning"], n),
        "sessions": rng.integers(4, 40, n),
        "barthel_start": barthel,
        "barthel_end": np.minimum(100, barthel + rng.integers(0, 30, n)),
    })


def _regional_aggregate(world: DemoWorld, rng: np.random.Generator) -> pd.DataFrame:
    months = pd.date_range("2022-01-01", "2026-09-01", freq="MS").date
    codes = [str(m[0]) for m in MUNICIPALITIES]
    grid = pd.MultiIndex.from_product([codes, months, ["KOL", "Hjertesvigt", "Diabetes"]],
                                      names=["municipality_code", "month", "condition"])
    frame = grid.to_frame(index=False)
    frame["admissions"] = rng.poisson(12, len(frame))
    return frame


def _descriptor(**fields: object) -> dict:
    base = {"themes": ["HEAL"], "spatial": ["1084"], "temporal": None,
            "legal_basis": "GDPR art. 6(1)(e) og art. 9(2)(j); EHDS art. 53(1)(e)",
            "consent_model": "opt_out", "k_min": 5, "subject_column": "cpr"}
    return base | fields


DEMO_DATASETS: tuple[DemoDataset, ...] = (
    DemoDataset("sundhedsdatastyrelsen", _descriptor(
        title="Landspatientregisteret – udtræk af sygehuskontakter 2015–2026",
        title_en="National Patient Register – extract of hospital contacts 2015–2026",
        description="Alle somatiske og psykiatriske sygehuskontakter for borgere i Region "
                    "Hovedstaden med aktionsdiagnose (ICD-10/SKS), kontakttype og liggetid.",
        description_en="All hospital contacts of residents of the Capital Region with primary "
                       "diagnosis (ICD-10/SKS), contact type and length of stay.",
        keywords=["landspatientregisteret", "LPR", "diagnoser", "sygehuskontakter", "register"],
        themes=["HEAL", "SOCI"], health_categories=["REGISTRY", "EHR"],
        access_rights="NON_PUBLIC", data_use={"permission": "GRU", "diseases": [],
                                              "modifiers": []},
        temporal={"start": "2015-01-01", "end": "2026-10-31"}, k_min=5,
        contact_point={"name": "Forskerservice", "email": "forskerservice@sds.example"},
        columns=[CPR, BIRTH, SEX, MUNICIPALITY, _date_column("contact_date", "Kontaktdato",
                                                            event=True),
                 _diagnosis("Aktionsdiagnose (SKS)"),
                 {"name": "contact_type", "type": "category", "role": "attribute",
                  "allowed_values": ["ambulant", "indlagt", "akut"], "required": True,
                  "description": "Kontakttype"},
                 {"name": "length_of_stay_days", "type": "integer", "role": "attribute",
                  "minimum": 0, "maximum": 365, "description": "Liggetid i dage"}]),
        _national_register),
    DemoDataset("herlev-hospital", _descriptor(
        title="Indlæggelser med KOL og hjertesvigt – Herlev og Gentofte Hospital",
        title_en="Admissions with COPD and heart failure – Herlev and Gentofte Hospital",
        description="Indlæggelser med kronisk obstruktiv lungesygdom (DJ44) og hjertesvigt "
                    "(DI50) 2019–2026 med genindlæggelse inden for 30 dage og lungefunktion.",
        description_en="Admissions with chronic obstructive pulmonary disease (DJ44) and heart "
                       "failure (DI50) 2019–2026 with 30-day readmission and lung function.",
        keywords=["KOL", "hjertesvigt", "indlæggelser", "genindlæggelse", "lungefunktion"],
        health_categories=["EHR"], access_rights="NON_PUBLIC",
        data_use={"permission": "DS", "diseases": ["DJ44", "DI50"], "modifiers": ["IRB"]},
        spatial=["1084", "163"], temporal={"start": "2019-01-01", "end": "2026-09-30"},
        k_min=5, contact_point={"name": "Datateamet, Herlev Hospital",
                                "email": "data@herlev.example"},
        columns=[CPR, NAME, ADDRESS, BIRTH, SEX, POSTCODE,
                 _date_column("admission_date", "Indlæggelsesdato", event=True),
                 _date_column("discharge_date", "Udskrivningsdato"),
                 _diagnosis("Aktionsdiagnose (SKS)"),
                 {"name": "readmitted_30d", "type": "category", "role": "sensitive",
                  "allowed_values": ["ja", "nej"], "description": "Genindlagt inden 30 dage"},
                 {"name": "fev1_percent", "type": "number", "role": "sensitive",
                  "minimum": 5, "maximum": 150, "description": "FEV1 i % af forventet"}]),
        _herlev_admissions),
    DemoDataset("rigshospitalet", _descriptor(
        title="Hjertesvigtsforløb med hjemmemonitorering – Rigshospitalet",
        title_en="Heart failure pathways with home monitoring – Rigshospitalet",
        description="Henviste patienter med hjertesvigt, uddrivningsfraktion, NYHA-klasse og "
                    "om de fik telemedicinsk hjemmemonitorering.",
        description_en="Referred heart failure patients with ejection fraction, NYHA class and "
                       "whether they had telemedical home monitoring.",
        keywords=["hjertesvigt", "telemedicin", "hjemmemonitorering", "kardiologi"],
        health_categories=["EHR", "WELLNESS"], access_rights="RESTRICTED",
        consent_model="opt_in",
        data_use={"permission": "HMB", "diseases": [], "modifiers": ["NCU"]},
        temporal={"start": "2020-01-01", "end": "2026-09-30"}, k_min=10,
        contact_point={"name": "Hjertecentret", "email": "hjerte@rigshospitalet.example"},
        columns=[CPR, BIRTH, SEX, POSTCODE,
                 _date_column("referral_date", "Henvisningsdato", event=True),
                 _diagnosis("Diagnose (SKS)"),
                 {"name": "ejection_fraction", "type": "integer", "role": "sensitive",
                  "minimum": 5, "maximum": 80, "description": "Uddrivningsfraktion (%)"},
                 {"name": "home_monitoring", "type": "category", "role": "attribute",
                  "allowed_values": ["ja", "nej"], "description": "Hjemmemonitorering"},
                 {"name": "nyha_class", "type": "category", "role": "sensitive",
                  "allowed_values": ["I", "II", "III", "IV"], "description": "NYHA-klasse"}]),
        _rigshospitalet_heart),
    DemoDataset("albertslund-kommune", _descriptor(
        title="Hjemmepleje – visiterede ydelser, Albertslund Kommune",
        title_en="Home care – granted services, Albertslund Municipality",
        description="Visiterede hjemmeplejeydelser med timer pr. uge, faldhændelser og "
                    "borgerens hoveddiagnose.",
        description_en="Granted home-care services with hours per week, falls and the "
                       "citizen's main diagnosis.",
        keywords=["hjemmepleje", "ældrepleje", "fald", "kommune"],
        themes=["HEAL", "SOCI"], health_categories=["CARE", "ADMINISTRATIVE"],
        access_rights="RESTRICTED",
        data_use={"permission": "HMB", "diseases": [], "modifiers": []}, spatial=["165"],
        temporal={"start": "2018-01-01", "end": "2026-10-31"}, k_min=5,
        contact_point={"name": "Sundhed og Omsorg", "email": "data@albertslund.example"},
        columns=_home_care_columns()),
        _home_care(165)),
    DemoDataset("koebenhavns-kommune", _descriptor(
        title="Hjemmepleje og sygepleje – Københavns Kommune",
        title_en="Home care and home nursing – City of Copenhagen",
        description="Visiterede ydelser i hjemmeplejen og hjemmesygeplejen med timer, "
                    "faldhændelser og hoveddiagnose.",
        description_en="Granted home-care and home-nursing services with hours, falls and "
                       "main diagnosis.",
        keywords=["hjemmepleje", "hjemmesygepleje", "ældre", "kommune"],
        themes=["HEAL", "SOCI"], health_categories=["CARE"], access_rights="NON_PUBLIC",
        data_use={"permission": "GRU", "diseases": [], "modifiers": ["NCU"]},
        spatial=["101"], temporal={"start": "2018-01-01", "end": "2026-10-31"}, k_min=10,
        contact_point={"name": "Sundheds- og Omsorgsforvaltningen", "email": "data@kk.example"},
        columns=_home_care_columns()),
        _home_care(101)),
    DemoDataset("broendby-kommune", _descriptor(
        title="Genoptræning efter sundhedsloven § 140 – Brøndby Kommune",
        title_en="Rehabilitation under the Health Act s. 140 – Brøndby Municipality",
        description="Genoptræningsforløb efter udskrivning med henvisningsdiagnose, "
                    "træningsform, antal sessioner og Barthel-indeks før og efter.",
        description_en="Rehabilitation after discharge with referral diagnosis, training "
                       "type, sessions and Barthel index before and after.",
        keywords=["genoptræning", "rehabilitering", "Barthel", "velfærdsteknologi"],
        health_categories=["CARE", "EHR"], access_rights="RESTRICTED",
        data_use={"permission": "HMB", "diseases": [], "modifiers": ["NCU", "PUB"]},
        spatial=["153"], temporal={"start": "2019-01-01", "end": "2026-10-31"}, k_min=5,
        contact_point={"name": "Sundhed og Rehabilitering", "email": "data@brondby.example"},
        columns=[CPR, BIRTH, SEX, POSTCODE,
                 _date_column("start_date", "Forløbets start", event=True),
                 _date_column("end_date", "Forløbets afslutning"),
                 _diagnosis("Henvisningsdiagnose (SKS)"),
                 {"name": "training_type", "type": "category", "role": "attribute",
                  "allowed_values": ["holdtræning", "individuel", "robotassisteret",
                                     "hjemmetræning"], "description": "Træningsform"},
                 {"name": "sessions", "type": "integer", "role": "attribute", "minimum": 0,
                  "maximum": 200, "description": "Antal træningssessioner"},
                 {"name": "barthel_start", "type": "integer", "role": "sensitive",
                  "minimum": 0, "maximum": 100, "description": "Barthel-indeks ved start"},
                 {"name": "barthel_end", "type": "integer", "role": "sensitive",
                  "minimum": 0, "maximum": 100, "description": "Barthel-indeks ved slut"}]),
        _rehabilitation),
    DemoDataset("region-hovedstaden", _descriptor(
        title="Indlæggelser pr. kommune og måned – aggregeret statistik",
        title_en="Admissions by municipality and month – aggregate statistics",
        description="Antal indlæggelser for KOL, hjertesvigt og diabetes pr. bopælskommune og "
                    "måned. Ingen personoplysninger.",
        description_en="Admissions for COPD, heart failure and diabetes by municipality and "
                       "month. No personal data.",
        keywords=["statistik", "indlæggelser", "KOL", "hjertesvigt", "diabetes"],
        themes=["HEAL", "REGI"], health_categories=["ADMINISTRATIVE"], access_rights="PUBLIC",
        data_use={"permission": "NRES", "diseases": [], "modifiers": []},
        temporal={"start": "2022-01-01", "end": "2026-09-30"}, k_min=2, subject_column=None,
        consent_model="opt_out",
        contact_point={"name": "Center for Sundhed", "email": "data@regionh.example"},
        columns=[{"name": "municipality_code", "type": "category", "role": "attribute",
                  "code_system": "municipality", "concept": "municipality", "required": True},
                 {"name": "month", "type": "date", "role": "attribute", "concept": "event_date",
                  "required": True},
                 {"name": "condition", "type": "category", "role": "attribute",
                  "allowed_values": ["KOL", "Hjertesvigt", "Diabetes"]},
                 {"name": "admissions", "type": "integer", "role": "attribute", "minimum": 0,
                  "maximum": 100000}]),
        _regional_aggregate),
)


def holder_principal(org: Organisation) -> Principal:
    """Act as the holder's own administrator, so demo data takes the same path as real data."""
    return Principal(kind="staff", name="Demo", org_id=org.id, org_slug=org.slug,
                     org_kind=org.kind, role="holder_admin",
                     scopes=frozenset({"catalog:write"}))


def seed_demo(session: Session, world: DemoWorld) -> None:
    """Publish the demo datasets that are missing (idempotent)."""
    for index, demo in enumerate(DEMO_DATASETS):
        org = world.orgs[demo.holder]
        exists = session.scalar(sa.select(Dataset.id).where(
            Dataset.publisher_org_id == org.id, Dataset.title == demo.descriptor["title"]))
        if exists is not None:
            continue
        actor = holder_principal(org)
        dataset = services.create_dataset(
            session, actor=actor, descriptor=Descriptor.model_validate(demo.descriptor))
        frame = demo.rows(world, np.random.default_rng(world.seed + index))
        _upload_frame(session, actor=actor, dataset=dataset, frame=frame, world=world)
        services.publish_dataset(session, actor=actor, dataset_id=dataset.id)


def _upload_frame(session: Session, *, actor: Principal, dataset: Dataset, frame: pd.DataFrame,
                  world: DemoWorld) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "demo.parquet"
        frame.to_parquet(path, index=False)
        with open(path, "rb") as stream:
            version = services.upload_version(
                session, actor=actor, dataset_id=dataset.id, stream=stream,
                media_type="application/vnd.apache.parquet", keyring=world.keyring,
                data_dir=world.data_dir, max_bytes=1 << 34)
    if not version.is_valid:
        failed = services.failed_expectations(version)
        raise RuntimeError(f"demo dataset {dataset.title!r} failed validation: {failed}")


TOPICS = (
    ("KOL", "lungesygdom"), ("hjertesvigt", "kardiologi"), ("diabetes", "endokrinologi"),
    ("demens", "ældre"), ("fald", "geriatri"), ("depression", "psykiatri"),
    ("kræft", "onkologi"), ("apopleksi", "neurologi"), ("hofte", "ortopædi"),
    ("graviditet", "fødsler"), ("astma", "børn"), ("genoptræning", "rehabilitering"),
    ("hjemmepleje", "kommune"), ("telemedicin", "velfærdsteknologi"), ("medicin", "recepter"),
)
KINDS = ("Register", "Kohorte", "Journaludtræk", "Kvalitetsdatabase", "Opfølgning")


def seed_bulk_descriptors(session: Session, world: DemoWorld, n: int) -> None:
    """Publish generated descriptors until `n` exist, for search load tests (idempotent).

    They describe no stored data (no data version): they exist to fill the catalog.
    """
    existing = session.scalar(sa.select(sa.func.count()).select_from(Dataset).where(
        Dataset.title.like(f"%{BULK_MARK}"))) or 0
    holders = [o for o in world.orgs.values() if o.is_data_holder]
    rng = np.random.default_rng(world.seed + 7)
    now = services.utcnow()
    themes, categories = list(voc.THEMES), list(voc.HEALTH_CATEGORIES)
    for start in range(existing, n, 1000):
        rows, tags = [], []
        for number in range(start, min(n, start + 1000)):
            topic, area = TOPICS[number % len(TOPICS)]
            kind = KINDS[int(rng.integers(len(KINDS)))]
            holder = holders[number % len(holders)]
            title = f"{kind}: {topic} og {area} nr. {number + 1} {BULK_MARK}"
            chosen_themes = ["HEAL", str(rng.choice(themes))]
            chosen_categories = [str(rng.choice(categories))]
            description = (f"Syntetisk beskrivelse af data om {topic} ({area}) fra "
                           f"{holder.name}, til test af katalogsøgning.")
            rows.append({
                "publisher_org_id": holder.id, "status": "published", "title": title,
                "description": description, "keywords": [topic, area, kind.lower()],
                "themes": list(dict.fromkeys(chosen_themes)),
                "health_categories": chosen_categories,
                "access_rights": str(rng.choice(voc.ACCESS_RIGHTS)),
                "legal_basis": "GDPR art. 9(2)(j)", "consent_model": "opt_out",
                "data_use": {"permission": "GRU", "diseases": [], "modifiers": []},
                "spatial": [], "k_min": 5, "columns": [],
                "search_text": " ".join([title, description, topic, area, kind]).lower(),
                "number_of_records": int(rng.integers(100, 100_000)),
                "created_at": now, "updated_at": now, "published_at": now,
            })
            tags.append([("theme", t) for t in dict.fromkeys(chosen_themes)]
                        + [("health_category", c) for c in chosen_categories])
        ids = session.scalars(sa.insert(Dataset).returning(Dataset.id), rows).all()
        session.execute(sa.insert(DatasetTag), [
            {"dataset_id": dataset_id, "facet": facet, "code": code}
            for dataset_id, pairs in zip(ids, tags, strict=True) for facet, code in pairs])
    session.flush()
