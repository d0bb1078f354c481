"""The procurement dossier as one document: the page and the tagged PDF say the same."""
import re

from marketplace.testbeds import services
from marketplace.testbeds.commands import CourseChanges, OutcomeReport
from tests.documents import assert_tagged_with_page_numbers, pdf_content_sha256, pdf_text
from tests.testbeds.conftest import NOW
from tests.testbeds.test_services import OUTCOME, completed_course


def evaluated_dossier(session, world, *, cost=48_000):
    course = completed_course(session, world)
    services.record_outcome(session, actor=world.host, course_id=course.id,
                            report=OutcomeReport(**{**OUTCOME, "baseline": 12.5, "result": 7}))
    services.change_test_course(session, actor=world.company, course_id=course.id, now=NOW,
                                changes=CourseChanges(yearly_cost_dkk=cost))
    session.commit()
    return course


def page_hash(html: str) -> str:
    return re.search(r'id="document-sha256">([0-9a-f]{64})<', html).group(1)


def test_pdf_carries_the_pages_figures_words_and_hash(client, world, login, session, caplog):
    course = evaluated_dossier(session, world)
    login(world.host_user)
    html = client.get(f"/test-courses/{course.id}/dossier").get_data(as_text=True)
    pdf = client.get(f"/test-courses/{course.id}/dossier.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert not [r.getMessage() for r in caplog.records
                if r.name == "weasyprint" and r.levelname != "INFO"]  # clean style and tags
    pages = assert_tagged_with_page_numbers(pdf.data, lang="da")
    text = " ".join(pages)
    for shown in ("48.000 kr.", "før 12,5 dage, efter 7 dage; forbedring +44 %",
                  "Under kommunernes direkte indkøbsgrænse på 50.000 kr. om året",
                  "Input til værdibaseret indkøb", "Dage til udskrivelse"):
        assert shown in html and shown in text, shown
    digest = page_hash(html)
    assert digest in text.replace(" ", "")
    assert pdf_content_sha256(pdf.data) == digest  # recomputable from the file alone
    # The footer of every page names the source, the time and the start of the hash.
    for page in pages:
        assert "Kilde: Sundhedsdatamarkedspladsen: testforløb nr." in page
        assert f"SHA-256 {digest[:16]}" in page and "CET" in page


def test_english_pdf_matches_the_english_page_and_keeps_the_hash(client, world, login,
                                                                  session):
    course = evaluated_dossier(session, world)
    login(world.host_user)
    html = client.get(f"/test-courses/{course.id}/dossier?lang=en").get_data(as_text=True)
    pdf = client.get(f"/test-courses/{course.id}/dossier.pdf?lang=en").data
    text = " ".join(assert_tagged_with_page_numbers(pdf, lang="en"))
    for shown in ("DKK 48,000", "before 12.5 dage, after 7 dage; improvement +44%",
                  "Inputs to value-based procurement"):
        assert shown in html and shown in text, shown
    danish = client.get(f"/test-courses/{course.id}/dossier?lang=da").get_data(as_text=True)
    assert page_hash(html) == page_hash(danish)


def test_hash_verifies_and_changes_with_the_content(client, world, login, api_headers,
                                                   session):
    course = evaluated_dossier(session, world)
    login(world.host_user)
    url = f"/test-courses/{course.id}/dossier"
    printed = page_hash(client.get(url).get_data(as_text=True))
    assert printed == page_hash(client.get(url).get_data(as_text=True))  # time is not content
    checked = client.get(f"{url}?sha256={printed.upper()[:30]} {printed.upper()[30:]}")
    assert checked.status_code == 200
    assert "Kontrolsummen passer: dokumentet svarer til det aktuelle indhold." in checked.get_data(
        as_text=True)

    services.change_test_course(session, actor=world.company, course_id=course.id, now=NOW,
                                changes=CourseChanges(yearly_cost_dkk=52_000))
    session.commit()
    changed = client.get(url).get_data(as_text=True)
    assert page_hash(changed) != printed
    stale = client.get(f"{url}?sha256={printed}").get_data(as_text=True)
    assert "Kontrolsummen passer ikke" in stale
    pdf = client.get(f"{url}.pdf").data
    assert page_hash(changed) in pdf_text(pdf).replace(" ", "")


def test_api_hash_is_the_canonical_json_of_the_dossier(client, world, api_headers, session):
    import hashlib
    import json

    course = evaluated_dossier(session, world)
    hospital = next(h.org for h in world.environment.hosts if h.sector == "hospital")
    headers = api_headers(hospital, scopes="access:review")
    body = client.get(f"/api/v1/test-courses/{course.id}/dossier?lang=da",
                      headers=headers).get_json()
    digest = body.pop("sha256")
    del body["generated_at"]
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert hashlib.sha256(canonical.encode()).hexdigest() == digest
    english = client.get(f"/api/v1/test-courses/{course.id}/dossier?lang=en",
                         headers=headers).get_json()
    assert english["sha256"] == digest


def test_a_malformed_hash_is_explained_beside_the_field(client, world, login, session):
    course = evaluated_dossier(session, world)
    login(world.host_user)
    for hostile in ("xyz", "<script>alert(1)</script>", "a" * 5000, "0" * 63):
        page = client.get(f"/test-courses/{course.id}/dossier", query_string={"sha256": hostile})
        html = page.get_data(as_text=True)
        assert page.status_code == 422
        assert "En kontrolsum er 64 tegn" in html and "<script>alert" not in html
    english = client.get(f"/test-courses/{course.id}/dossier?lang=en&sha256=nope")
    assert "A checksum is 64 characters" in english.get_data(as_text=True)


def test_outsiders_get_no_dossier_pdf(client, world, login, session):
    course = evaluated_dossier(session, world)
    login(world.rival_company_user)
    # Another company's course does not exist as far as the outsider can tell.
    assert client.get(f"/test-courses/{course.id}/dossier.pdf").status_code == 404
