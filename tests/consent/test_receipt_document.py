"""The readable consent receipt, the child's wording and where the save message appears."""
import html as html_lib
import json
import re

from marketplace.consent import services
from tests.consent.conftest import CHILD_CPR
from tests.consent.test_views import PURPOSE, put_choice
from tests.documents import assert_tagged_with_page_numbers, pdf_content_sha256

CPR_SHAPE = re.compile(r"(?<!\d)\d{6}-?\d{4}(?!\d)")
# Pseudonyms and digests are hex: one may hold ten digits in a row by chance.
HEX_RUN = re.compile(r"[0-9a-f]{12,}")


def cpr_shaped(text: str) -> re.Match[str] | None:
    return CPR_SHAPE.search(HEX_RUN.sub(" ", text))


def page_hash(html: str) -> str:
    return re.search(r'id="document-sha256">([0-9a-f]{64})<', html).group(1)


def form_token(client) -> str:
    return client.get("/api/v1/me").get_json()["csrf_token"]


def test_receipt_page_and_pdf_say_the_same_without_a_cpr(client, citizen, headers, caplog):
    put_choice(client, headers, decision="permit")
    put_choice(client, headers, purpose="education", decision="deny")
    html = client.get("/consent/receipt").get_data(as_text=True)
    pdf = client.get("/consent/receipt.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert not [r.getMessage() for r in caplog.records
                if r.name == "weasyprint" and r.levelname != "INFO"]
    pages = assert_tagged_with_page_numbers(pdf.data, lang="da")
    text = " ".join(pages)
    record = client.get("/api/v1/me/consents/receipt").get_json()
    for shown in ("Kvittering for samtykke", "Mette Hansen", "Tilladt for alle dataholdere",
                  "Afvist for alle dataholdere", "Ikke fravalgt."):
        assert shown in html and shown in text, shown
    assert record["pii_principal_id"] in html and record["pii_principal_id"] in text
    assert not cpr_shaped(text) and not cpr_shaped(html)
    digest = page_hash(html)
    assert digest in text.replace(" ", "")
    assert pdf_content_sha256(pdf.data) == digest
    for page in pages:
        assert "Kilde: Sundhedsdatamarkedspladsens samtykkeregister" in page
        assert f"SHA-256 {digest[:16]}" in page


def test_receipt_hash_covers_the_consents_and_changes_with_them(client, citizen,
                                                                headers):
    put_choice(client, headers, decision="permit")
    first = page_hash(client.get("/consent/receipt").get_data(as_text=True))
    assert first == page_hash(client.get("/consent/receipt").get_data(as_text=True))
    checked = client.get(f"/consent/receipt?sha256={first}").get_data(as_text=True)
    assert "Kontrolsummen passer:" in checked
    put_choice(client, headers, decision="deny")
    stale = client.get(f"/consent/receipt?sha256={first}")
    assert stale.status_code == 200 and "Kontrolsummen passer ikke" in stale.get_data(
        as_text=True)
    malformed = client.get("/consent/receipt?sha256=%3Cb%3Ehej%3C/b%3E&lang=en")
    assert malformed.status_code == 422
    body = malformed.get_data(as_text=True)
    assert "A checksum is 64 characters" in body and "<b>hej</b>" not in body


def test_receipt_needs_a_signed_in_citizen(client, make_org, make_user, login):
    assert client.get("/consent/receipt").status_code in (302, 303, 401)
    assert client.get("/consent/receipt.pdf").status_code in (302, 303, 401)
    login(make_user(make_org(kind="company"), role="company_member"))
    assert client.get("/consent/receipt").status_code == 403
    assert client.get("/consent/receipt.pdf").status_code == 403


def test_acting_for_a_child_every_page_speaks_of_the_childs_data(client, citizen,
                                                                 session, keyring,
                                                                 headers):
    services.register_guardianships(session, keyring=keyring, guardian=citizen,
                                    child_cprs=[CHILD_CPR])
    session.commit()
    (child,) = client.get("/api/v1/me/wards").get_json()["children"]
    client.put("/api/v1/me/acting-for", headers=headers,
               data=json.dumps({"citizen_id": child["citizen_id"]}))
    pages = {path: client.get(path).get_data(as_text=True) for path in (
        "/consent", "/consent/history", "/my-data-uses", "/consent/receipt")}
    for path, html in pages.items():
        assert "dit barns" in html, path
        assert not re.search(r"\b[Dd]ine (sundheds)?data\b", html), path
    assert "Se hvem der har brugt dit barns data" in pages["/consent"]
    assert "<h1>Hvem brugte mit barns data</h1>" in pages["/my-data-uses"]
    assert all("Hvem brugte mine data" not in html for html in pages.values())  # the menu too
    english = html_lib.unescape(client.get("/consent?lang=en").get_data(as_text=True))
    assert "your child's health data" in english and "What your child's data may never" in english
    pdf = client.get("/consent/receipt.pdf?lang=en").data
    text = " ".join(assert_tagged_with_page_numbers(pdf, lang="en"))
    assert "(your child under 15)" in text and "Your child's data may be used" in text
    own = client.put("/api/v1/me/acting-for", headers=headers,
                     data=json.dumps({"citizen_id": None}))
    assert own.status_code == 200
    assert "dit barns" not in client.get("/consent?lang=da").get_data(as_text=True)


def test_the_save_message_sits_in_the_section_saved(client, citizen):
    saved = client.post("/consent/choices", data={
        "csrf_token": form_token(client), "purpose": PURPOSE, "target": "all",
        "decision": "permit"})
    assert saved.status_code == 303 and saved.headers["Location"].endswith("#consent-saved")
    html = client.get("/consent").get_data(as_text=True)
    article = html[html.index(f'id="purpose-{PURPOSE}"'):]
    article = article[:article.index("</article>")]
    assert re.search(r'<p class="flash success saved" id="consent-saved" role="status"', article)
    assert re.search(r">Dit valg for [^<]+ er gemt\.<", article)
    assert html.count("er gemt.") == 1
    assert 'id="consent-saved"' not in client.get("/consent").get_data(as_text=True)

    client.post("/consent/opt-out", data={"csrf_token": form_token(client), "action": "opt_out"})
    html = client.get("/consent").get_data(as_text=True)
    section = html[html.index('id="opt-out"'):]
    assert section.index('id="consent-saved"') < section.index("</section>")


def test_a_refused_save_is_explained_at_the_top_and_nothing_is_stored(client, citizen,
                                                                      session):
    before = client.get("/api/v1/me/consents/history").get_json()
    refused = client.post("/consent/choices", data={
        "csrf_token": form_token(client), "purpose": "reidentification", "target": "all",
        "decision": "permit"})
    assert refused.status_code == 303 and "#" not in refused.headers["Location"]
    html = client.get("/consent").get_data(as_text=True)
    assert "Valget blev ikke gemt" in html and 'id="consent-saved"' not in html
    assert client.get("/api/v1/me/consents/history").get_json() == before
