"""The purpose taxonomy is data: every purpose is mapped to EHDS and DUO, and bad files fail."""
import json

import pytest

from marketplace.catalog.purposes import PURPOSES_FILE, load_taxonomy, parse_taxonomy

PERMITTED = {"public_research", "company_research", "test_environment", "education",
             "official_statistics", "public_health"}
PROHIBITED = {"detrimental_decisions", "insurance_credit_employment", "advertising_marketing",
              "harmful_products", "ethics_conflict", "reidentification"}


def test_taxonomy_has_the_agreed_codes_and_mappings():
    taxonomy = load_taxonomy()
    assert {p.code for p in taxonomy.selectable} == PERMITTED
    assert {p.code for p in taxonomy.purposes if p.prohibited} == PROHIBITED
    for purpose in taxonomy.selectable:
        assert purpose.ehds_article.startswith("53(1)")
        assert purpose.duo in {"GRU", "HMB"}
        assert purpose.label_da and purpose.label_en and purpose.description_da
    for purpose in taxonomy.purposes:
        if purpose.prohibited:
            assert purpose.ehds_article.startswith("54")
    assert taxonomy.get("company_research").commercial
    assert taxonomy.get("official_statistics").public_bodies_only
    assert taxonomy.get("nonsense") is None


def test_labels_follow_the_language():
    purpose = load_taxonomy().get("education")
    assert purpose.label("da") == "Uddannelse og undervisning"
    assert purpose.label("en") == "Education and teaching"


@pytest.mark.parametrize("mutate", [
    lambda d: d.pop("notice_version"),
    lambda d: d["purposes"][0].pop("duo"),
    lambda d: d["purposes"].append(dict(d["purposes"][0])),
    lambda d: d.update(purposes=[]),
])
def test_malformed_taxonomy_is_rejected(mutate):
    document = json.loads(PURPOSES_FILE.read_text(encoding="utf-8"))
    mutate(document)
    with pytest.raises(ValueError):
        parse_taxonomy(document)
