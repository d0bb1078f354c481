"""A dataset's conditions of use told in words, in Danish and English."""
from marketplace.catalog import vocabulary
from marketplace.catalog.conditions import MODIFIERS, PERMISSIONS, describe_conditions
from marketplace.languages import translate


def test_every_duo_code_has_words_in_both_languages():
    assert set(PERMISSIONS) == set(vocabulary.DUO_PERMISSIONS)
    assert set(MODIFIERS) == set(vocabulary.DUO_MODIFIERS)
    texts = [*PERMISSIONS.values(), *MODIFIERS.values()]
    assert all(translate(text, "en") != text for text in texts)


def test_permission_modifiers_and_purposes_become_sentences():
    conditions = describe_conditions({
        "permission": "DS", "diseases": ["J44", "J45"],
        "modifiers": ["GS:DK,SE", "MOR:2027-06-01", "IRB"],
        "purposes": ["public_research", "unknown_code"]})
    assert [c.text("da") for c in conditions] == [
        "Kun forskning i bestemte sygdomme: J44, J45",
        "Kun i disse lande eller områder: DK,SE",
        "Intet må offentliggøres før 2027-06-01",
        "Kræver etisk godkendelse",
        "Kun til formålene: Offentlig forskning, unknown_code"]
    assert conditions[3].text("en") == "Ethics approval required"
    assert conditions[4].text("en") == "Only for the purposes: Public research, unknown_code"


def test_a_missing_or_odd_data_use_still_reads():
    assert [c.code for c in describe_conditions(None)] == ["GRU"]
    assert describe_conditions({"permission": "XYZ", "modifiers": ["ABC"]})[1].text("en") == "ABC"
