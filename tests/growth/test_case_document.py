"""The procurement case as one document: the page and the tagged PDF say the same."""
import hashlib
import json
import re

from tests.documents import assert_tagged_with_page_numbers, pdf_content_sha256
from tests.growth.test_views import _to_execution, register


def open_case(client, as_user, growth):
    created = register(client, as_user(growth.company_user))
    _to_execution(client, as_user, growth, created["id"])
    headers = as_user(growth.municipality_admin)
    case = client.post(f"/api/v1/opportunities/{created['id']}/procurement-case",
                       json={"yearly_cost_dkk": 45_000}, headers=headers).get_json()
    step = client.put(f"/api/v1/procurement-cases/{case['id']}/steps/investment",
                      json={"fields": {"yearly_cost_dkk": 80_000, "volume": 100,
                                       "unit_saving_dkk": 2_000, "effect_percent": 30}},
                      headers=headers)
    assert step.status_code == 200
    return case["id"], headers


def page_hash(html: str) -> str:
    return re.search(r'id="document-sha256">([0-9a-f]{64})<', html).group(1)


def test_case_pdf_matches_its_page_and_is_tagged(client, growth, as_user, caplog) -> None:
    case_id, _headers = open_case(client, as_user, growth)
    html = client.get(f"/procurement-cases/{case_id}").get_data(as_text=True)
    pdf = client.get(f"/procurement-cases/{case_id}.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert not [r.getMessage() for r in caplog.records
                if r.name == "weasyprint" and r.levelname != "INFO"]
    pages = assert_tagged_with_page_numbers(pdf.data, lang="da")
    text = " ".join(pages)
    for shown in ("80.000 kr.", "60.000 kr.", "Værdibaseret indkøbssag: Hjemmemonitorering af KOL",
                  "Om dokumentet"):
        assert shown in html and shown in text, shown
    digest = page_hash(html)
    assert digest in text.replace(" ", "")
    assert pdf_content_sha256(pdf.data) == digest
    for page in pages:
        assert "Kilde: Sundhedsdatamarkedspladsen: vækstmulighed nr." in page
        assert f"SHA-256 {digest[:16]}" in page


def test_case_hash_is_its_canonical_json_and_follows_changes(client, growth, as_user) -> None:
    case_id, headers = open_case(client, as_user, growth)
    body = client.get(f"/api/v1/procurement-cases/{case_id}").get_json()
    digest = body.pop("sha256")
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert hashlib.sha256(canonical.encode()).hexdigest() == digest
    page = client.get(f"/procurement-cases/{case_id}?sha256={digest}").get_data(as_text=True)
    assert page_hash(page) == digest and "Kontrolsummen passer:" in page

    client.put(f"/api/v1/procurement-cases/{case_id}/steps/need",
               json={"fields": {"need": "Færre indlæggelser om vinteren"}}, headers=headers)
    changed = client.get(f"/procurement-cases/{case_id}?sha256={digest}").get_data(as_text=True)
    assert page_hash(changed) != digest and "Kontrolsummen passer ikke" in changed
    english = client.get(f"/procurement-cases/{case_id}?lang=en&sha256=123")
    assert english.status_code == 422
    assert "A checksum is 64 characters" in english.get_data(as_text=True)
