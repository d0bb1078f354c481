"""Matching of solution profiles to the region's test environments."""
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marketplace.testbeds.matching import (
    MAX_DESCRIPTION_CHARS,
    EnvironmentFacts,
    EnvironmentIndex,
    Profile,
    Vocabulary,
)
from marketplace.testbeds.seed_data import ENVIRONMENTS_PATH


@pytest.fixture(scope="module")
def vocabulary():
    return Vocabulary.load()


def region_environments(free_slots=5):
    specs = json.loads(ENVIRONMENTS_PATH.read_text(encoding="utf-8"))["environments"]
    return [
        EnvironmentFacts(
            id=position,
            text=" ".join([spec["name_da"], spec["description_da"], spec["description_en"]]),
            themes=frozenset(spec["themes"]),
            target_groups=frozenset(spec["target_groups"]),
            resources=frozenset(spec["resources"]),
            facilities=frozenset(spec["facilities"]),
            host_sectors=frozenset(host["sector"] for host in spec["hosts"]),
            dataset_count=2 if "data" in spec["resources"] else 0,
            capacity=spec["capacity_per_year"],
            free_slots=free_slots,
            trl_min=spec["trl_min"],
            trl_max=spec["trl_max"],
        )
        for position, spec in enumerate(specs, start=1)
    ]


SLUGS = {
    1: "avanceret-simulation",
    2: "rehabilitering",
    3: "ressourcemobilisering-hjemmebehandling",
    4: "sundhedsbelysning",
    5: "sundhedsdata",
}


@pytest.fixture(scope="module")
def index(vocabulary):
    return EnvironmentIndex(vocabulary, region_environments())


def top_slugs(index, profile, n=1):
    return [SLUGS[match.environment_id] for match in index.rank(profile)[:n]]


# (description of the case, profile, acceptable top environments)
PROFILES = [
    (
        "rehabilitation exoskeleton, text only (English)",
        Profile(description="A powered lower-limb exoskeleton that helps people walk again "
                            "after a stroke or spinal cord injury."),
        {"rehabilitering"},
    ),
    (
        "exoskelet, Danish text and themes",
        Profile(themes=frozenset({"rehabilitation"}), trl=7,
                description="Exoskelet til gangtræning af borgere med lammelser efter "
                            "apopleksi."),
        {"rehabilitering"},
    ),
    (
        "VR surgical training",
        Profile(target_groups=frozenset({"clinical_staff"}), trl=5,
                description="VR simulator for training laparoscopic surgery skills of junior "
                            "doctors."),
        {"avanceret-simulation"},
    ),
    (
        "simulation in Danish",
        Profile(description="Virtuel træning af akutte forløb og genoplivning for "
                            "sygeplejersker og medicinstuderende."),
        {"avanceret-simulation"},
    ),
    (
        "circadian lighting",
        Profile(description="Circadian lighting for nursing homes that improves sleep and "
                            "reduces agitation in residents with dementia."),
        {"sundhedsbelysning"},
    ),
    (
        "døgnrytmelys in Danish",
        Profile(target_groups=frozenset({"elderly"}),
                description="Dynamisk døgnrytmelys på plejecentre, så beboerne sover bedre."),
        {"sundhedsbelysning"},
    ),
    (
        "outdoor lighting",
        Profile(themes=frozenset({"health_lighting"}), needs=frozenset({"citizens"}),
                description="Smart street lighting on paths that makes older citizens feel "
                            "safe going out in the evening."),
        {"sundhedsbelysning"},
    ),
    (
        "COPD tele-monitoring app",
        Profile(needs=frozenset({"patients"}), trl=6,
                description="A COPD tele-monitoring app: patients measure oxygen saturation at "
                            "home and nurses follow up remotely."),
        {"ressourcemobilisering-hjemmebehandling", "sundhedsdata"},
    ),
    (
        "KOL hjemmemonitorering in Danish",
        Profile(themes=frozenset({"telemedicine"}),
                description="Hjemmemonitorering af borgere med KOL for at forebygge "
                            "indlæggelser."),
        {"ressourcemobilisering-hjemmebehandling", "sundhedsdata"},
    ),
    (
        "AI readmission prediction",
        Profile(needs=frozenset({"data"}), trl=4,
                description="Machine learning model that predicts readmission risk from "
                            "electronic health records."),
        {"sundhedsdata"},
    ),
    (
        "AI decision support in Danish",
        Profile(themes=frozenset({"artificial_intelligence"}),
                description="Algoritme til billedanalyse af røntgenbilleder som "
                            "beslutningsstøtte for læger."),
        {"sundhedsdata"},
    ),
    (
        "self-care app for relatives",
        Profile(target_groups=frozenset({"relatives", "chronically_ill"}),
                description="App that helps relatives support self-management of heart "
                            "failure patients after discharge."),
        {"ressourcemobilisering-hjemmebehandling"},
    ),
    (
        "ceiling lift for care staff",
        Profile(needs=frozenset({"care_staff", "citizens"}),
                description="Loftlift og forflytningshjælpemiddel, der gør hverdagen lettere "
                            "for borgere med funktionsnedsættelse."),
        {"rehabilitering"},
    ),
    (
        "medication dispenser at home",
        Profile(themes=frozenset({"home_treatment"}),
                description="Automatic medication dispenser that reminds patients to take "
                            "their medicine at home."),
        {"ressourcemobilisering-hjemmebehandling"},
    ),
    (
        "structured fields only: simulation",
        Profile(themes=frozenset({"simulation", "medical_education"}),
                target_groups=frozenset({"students"})),
        {"avanceret-simulation"},
    ),
]


@pytest.mark.parametrize(
    ("case", "profile", "expected"), PROFILES, ids=[case for case, _, _ in PROFILES]
)
def test_realistic_profiles_rank_the_expected_environment_first(index, case, profile, expected):
    assert top_slugs(index, profile)[0] in expected


def test_table_has_at_least_twelve_profiles():
    assert len(PROFILES) >= 12


def test_results_are_sorted_best_first_and_cover_every_environment(index):
    matches = index.rank(PROFILES[0][1])
    scores = [match.score for match in matches]
    assert scores == sorted(scores, reverse=True)
    assert sorted(match.environment_id for match in matches) == [1, 2, 3, 4, 5]
    assert all(0 <= score <= 100 for score in scores)


def test_reasons_explain_fit_and_misfit_in_both_languages(index):
    profile = Profile(themes=frozenset({"rehabilitation"}), needs=frozenset({"data"}), trl=2,
                      description="Exoskeleton for gait training")
    matches = {m.environment_id: m for m in index.rank(profile)}
    rehab = {reason.code: reason for reason in matches[2].reasons}
    assert rehab["themes"].fits and "Rehabilitering" in rehab["themes"].message_da
    assert "Rehabilitation" in rehab["themes"].message("en")
    assert "exoskelet" in rehab["text"].message_da
    assert not rehab["trl"].fits and "under" in rehab["trl"].message_da
    assert not rehab["available_data"].fits
    data_env = {reason.code: reason for reason in matches[5].reasons}
    assert data_env["available_data"].fits
    assert not data_env["themes"].fits


def test_full_environment_is_marked_and_ranks_below_an_equal_one_with_room(vocabulary):
    environments = region_environments()
    full = EnvironmentFacts(**{**environments[1].__dict__, "id": 9, "free_slots": 0})
    index = EnvironmentIndex(vocabulary, [*environments, full])
    matches = index.rank(PROFILES[0][1])
    ids = [match.environment_id for match in matches]
    assert ids.index(2) < ids.index(9)
    capacity = next(r for r in matches[ids.index(9)].reasons if r.code == "capacity")
    assert not capacity.fits and "Ingen ledige pladser" in capacity.message_da


def test_host_coverage_reports_a_missing_sector(index):
    profile = Profile(needs=frozenset({"citizens"}), themes=frozenset({"simulation"}))
    simulation = next(m for m in index.rank(profile) if m.environment_id == 1)
    coverage = next(r for r in simulation.reasons if r.code == "host_coverage")
    assert not coverage.fits and "kommune" in coverage.message_da


def test_limit_returns_only_the_best(index):
    assert [m.environment_id for m in index.rank(PROFILES[4][1], limit=1)] == [4]


@pytest.mark.parametrize(
    ("profile", "field"),
    [
        (Profile(themes=frozenset({"astrology"})), "themes"),
        (Profile(target_groups=frozenset({"martians"})), "target_groups"),
        (Profile(needs=frozenset({"money"})), "needs"),
        (Profile(facilities=frozenset({"moon_base"})), "facilities"),
        (Profile(description="x", trl=10), "trl"),
        (Profile(description="x", trl=0), "trl"),
        (Profile(), "profile"),
        (Profile(description="   \n "), "profile"),
        (Profile(description="a" * 100_000), "description"),
        (Profile(themes=frozenset(f"t{i}" for i in range(30))), "themes"),
    ],
)
def test_bad_profiles_are_explained(vocabulary, profile, field):
    errors = vocabulary.validate(profile)
    assert field in {error["field"] for error in errors}


def test_a_complete_profile_is_valid(vocabulary):
    profile = Profile(themes=frozenset({"rehabilitation"}), target_groups=frozenset({"elderly"}),
                      needs=frozenset({"patients", "data"}),
                      facilities=frozenset({"training_apartment"}), trl=6,
                      description="d" * MAX_DESCRIPTION_CHARS)
    assert vocabulary.validate(profile) == []


@pytest.mark.parametrize(
    ("text", "concept"),
    [
        ("Døgnrytmelyset på stuen", "lighting"),
        ("døgnrytmelys", "circadian"),
        ("hjemmemonitoreringen", "telemonitoring"),
        ("robotkirurgi", "surgery"),
        ("Tele-monitoring of COPD", "telemonitoring"),
        ("kunstig intelligens", "artificial_intelligence"),
        ("genoptræningsforløb", "rehabilitation"),
    ],
)
def test_danish_compounds_and_english_phrases_are_recognised(vocabulary, text, concept):
    assert concept in vocabulary.analyse(text)


def test_common_words_do_not_trigger_lighting(vocabulary):
    assert "lighting" not in vocabulary.analyse("analyse af data og lyst til at deltage")


def test_vocabulary_terms_only_name_known_codes(vocabulary):
    for concept in vocabulary.concepts.values():
        assert set(concept.themes) <= vocabulary.themes.keys()


@st.composite
def profiles(draw):
    vocabulary = Vocabulary.load()
    words = [c.label_en for c in vocabulary.concepts.values()]
    return Profile(
        themes=frozenset(draw(st.sets(st.sampled_from(sorted(vocabulary.themes)), max_size=4))),
        target_groups=frozenset(draw(st.sets(st.sampled_from(sorted(vocabulary.target_groups)),
                                             max_size=3))),
        needs=frozenset(draw(st.sets(st.sampled_from(sorted(vocabulary.needs)), max_size=3))),
        trl=draw(st.none() | st.integers(1, 9)),
        description=" ".join(draw(st.lists(st.sampled_from(words), max_size=6))),
    )


@settings(max_examples=60, deadline=None)
@given(profile=profiles())
def test_scores_stay_in_range_and_sorted(index, profile):
    matches = index.rank(profile)
    scores = [m.score for m in matches]
    assert scores == sorted(scores, reverse=True)
    assert all(0 <= s <= 100 for s in scores)
    assert all(m.reasons for m in matches)


@settings(max_examples=60, deadline=None)
@given(profile=profiles(), position=st.integers(0, 4))
def test_naming_a_theme_the_environment_has_never_lowers_its_score(index, profile, position):
    environment = index.environments[position]
    theme = sorted(environment.themes)[0]
    before = {m.environment_id: m.score for m in index.rank(profile)}[environment.id]
    richer = Profile(**{**profile.__dict__, "themes": profile.themes | {theme}})
    after = {m.environment_id: m.score for m in index.rank(richer)}[environment.id]
    assert after >= before - 0.05  # scores are rounded to one decimal
