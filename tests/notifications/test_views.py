"""The inbox and choices over HTTP: the caller's own only, every bad input a clear 4xx."""
from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from marketplace.cli import cli
from marketplace.notifications import services as notifications
from marketplace.notifications.models import MailMessage, Notification
from tests.growth.test_views import advance, register
from tests.notifications.conftest import told


@pytest.fixture
def people(make_org, make_user, session):
    company = make_org("company", slug="pulmo-views")
    me = make_user(company, role="company_member")
    colleague = make_user(company, role="company_member")
    for name in ("Første kørsel", "Anden kørsel"):
        notifications.notify(session, kind="job_finished",
                             audience=notifications.members(company.id),
                             params={"name": name, "status": "succeeded"}, link="/workspace/3")
    session.commit()
    return me, colleague


def test_the_json_inbox_lists_the_callers_own_newest_first(client, login, people, session):
    login(people[0])
    body = client.get("/api/v1/me/notifications").get_json()
    assert body["total"] == 2 and body["unread"] == 2
    assert [item["title"] for item in body["items"]] == ["Kørslen »Anden kørsel« er færdig",
                                                         "Kørslen »Første kørsel« er færdig"]
    assert body["items"][0]["link"] == "/workspace/3" and body["items"][0]["read"] is False
    assert body["items"][0]["topic"] == "job_finished"
    english = client.get("/api/v1/me/notifications?lang=en").get_json()
    assert english["items"][0]["title"] == "The job “Anden kørsel” has finished"


def test_marking_read_changes_the_count_and_only_for_the_owner(client, login, people, session,
                                                              csrf_headers):
    me, colleague = people
    theirs = told(session, colleague)[0]
    login(me)
    headers = csrf_headers()
    mine = told(session, me)[0]
    response = client.post(f"/api/v1/me/notifications/{mine.id}/read", headers=headers)
    assert response.status_code == 200 and response.get_json()["read"] is True
    assert client.get("/api/v1/me/notifications").get_json()["unread"] == 1
    assert client.get("/api/v1/me/notifications?unread=true").get_json()["total"] == 1
    # Someone else's notification is not found, and stays unread.
    response = client.post(f"/api/v1/me/notifications/{theirs.id}/read", headers=headers)
    assert response.status_code == 404
    assert response.get_json()["detail"] == "beskeden findes ikke"
    session.expire_all()
    assert session.get(Notification, theirs.id).read_at is None
    response = client.post("/api/v1/me/notifications/read-all", headers=headers)
    assert response.get_json() == {"marked": 1}
    assert client.get("/api/v1/me/notifications").get_json()["unread"] == 0
    assert told(session, colleague)[0].read_at is None


@pytest.mark.parametrize("path", ["/api/v1/me/notifications/0/read",
                                  "/api/v1/me/notifications/2147483648/read",
                                  "/api/v1/me/notifications/abc/read"])
def test_bad_ids_are_4xx(client, login, people, csrf_headers, path):
    login(people[0])
    response = client.post(path, headers=csrf_headers())
    assert response.status_code in (404, 422)
    assert response.content_type == "application/problem+json"


def test_bad_paging_is_422_in_the_callers_language(client, login, people):
    login(people[0])
    response = client.get("/api/v1/me/notifications?per_page=1000&lang=en")
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "per_page"


def test_strangers_citizens_and_missing_csrf_are_refused(client, login, people, make_citizen,
                                                         session):
    assert client.get("/api/v1/me/notifications").status_code == 401
    mine = told(session, people[0])[0]
    assert client.post(f"/api/v1/me/notifications/{mine.id}/read").status_code in (401, 403)
    login(people[0])
    response = client.post(f"/api/v1/me/notifications/{mine.id}/read")  # no CSRF token
    assert response.status_code in (400, 403)
    session.expire_all()
    assert session.get(Notification, mine.id).read_at is None
    citizen, _cpr = make_citizen()
    session.commit()
    login(citizen)
    response = client.get("/api/v1/me/notifications")
    assert response.status_code == 403
    assert client.get("/notifications").status_code == 403


def test_choices_round_trip_and_refuse_unknown_topics_and_values(client, login, people,
                                                                 csrf_headers, session):
    login(people[0])
    headers = csrf_headers()
    shown = client.get("/api/v1/me/notification-settings").get_json()
    assert shown["language"] == "da"
    assert {t["key"] for t in shown["topics"]} == {"application_decided", "job_finished",
                                                    "output_decided", "course_answered",
                                                    "gate_decided"}
    response = client.put("/api/v1/me/notification-settings", headers=headers,
                          json={"language": "en", "email": {"job_finished": False}})
    assert response.status_code == 200
    job = next(t for t in response.get_json()["topics"] if t["key"] == "job_finished")
    assert job["email"] is False and job["inbox"] is True
    for body, field in (({"inbox": {"no_such_topic": True}}, "inbox.no_such_topic"),
                        ({"language": "fr"}, "language"),
                        ({"email": {"job_finished": "no"}}, "email.job_finished"),
                        ({"colour": "red"}, "colour")):
        response = client.put("/api/v1/me/notification-settings?lang=en", headers=headers,
                              json=body)
        assert response.status_code == 422, body
        assert response.get_json()["errors"][0]["field"] == field
    response = client.put("/api/v1/me/notification-settings", headers=headers,
                          data="not json", content_type="application/json")
    assert response.status_code == 400
    after = client.get("/api/v1/me/notification-settings").get_json()
    assert after["language"] == "en"  # nothing of the refused changes was stored


def test_the_inbox_page_shows_unread_marks_read_and_counts_in_the_navigation(
        client, login, people, session):
    login(people[0])
    page = client.get("/notifications").get_data(as_text=True)
    assert "Kørslen »Anden kørsel« er færdig" in page
    assert 'href="/workspace/3"' in page
    assert "Ulæste beskeder: 2" in page
    assert 'class="badge unread-count">2' in page
    token = client.get("/api/v1/me").get_json()["csrf_token"]
    mine = told(session, people[0])[0]
    response = client.post(f"/notifications/{mine.id}/read", data={"csrf_token": token})
    assert response.status_code == 302
    assert "Ulæste beskeder: 1" in client.get("/notifications").get_data(as_text=True)
    other = told(session, people[1])[0]
    assert client.post(f"/notifications/{other.id}/read",
                       data={"csrf_token": token}).status_code == 404
    client.post("/notifications/read-all", data={"csrf_token": token})
    page = client.get("/notifications").get_data(as_text=True)
    assert "Ulæste beskeder: 0" in page and "unread-count" not in page


def test_the_settings_page_saves_checkboxes(client, login, people, session):
    me = people[0]
    login(me)
    page = client.get("/notifications/settings").get_data(as_text=True)
    assert "Kørsler og udtræk, der er færdige" in page
    token = client.get("/api/v1/me").get_json()["csrf_token"]
    response = client.post("/notifications/settings", data={
        "csrf_token": token, "language": "en", "inbox-job_finished": "on"})
    assert response.status_code == 302
    choices = client.get("/api/v1/me/notification-settings").get_json()
    job = next(t for t in choices["topics"] if t["key"] == "job_finished")
    assert (job["inbox"], job["email"], choices["language"]) == (True, False, "en")
    assert client.post("/notifications/settings", data={
        "csrf_token": token, "language": "xx"}).status_code == 422
    assert client.post("/notifications/settings",
                       data={"language": "da"}).status_code in (400, 403)


def test_only_the_operator_sees_the_outbox_page(client, login, people, make_org, make_user):
    login(people[0])
    assert client.get("/notifications/sent").status_code == 403
    operator = make_user(make_org("operator", slug="op-views"), role="operator")
    login(operator)
    assert 'href="/notifications/sent"' in client.get("/notifications").get_data(as_text=True)
    page = client.get("/notifications/sent").get_data(as_text=True)
    assert "Kørslen »Første kørsel« er færdig" in page
    assert people[0].email in page


def test_a_gate_decision_tells_the_opportunitys_parties_not_the_decider(client, session,
                                                                        growth, as_user):
    created = register(client, as_user(growth.company_user))
    advance(client, as_user, growth, created["id"], "identifikation")
    [notice] = told(session, growth.company_user, "gate_decided")
    assert notice.params == {"title": "Hjemmemonitorering af KOL", "decision": "go",
                             "stage": "identifikation"}
    assert notice.link == f"/opportunities/{created['id']}"
    assert len(told(session, growth.municipality_admin, "gate_decided")) == 1  # need owner
    assert len(told(session, growth.secretariat, "gate_decided")) == 1
    assert told(session, growth.steering, "gate_decided") == []  # the one who decided
    assert told(session, growth.rival_user) == []
    assert told(session, growth.hospital_admin) == []
    mail = session.scalar(sa.select(MailMessage).where(
        MailMessage.to_address == growth.company_user.email))
    assert mail.subject == ("Beslutning ved porten for »Hjemmemonitorering af KOL«: "
                            "godkendt til næste fase")
    assert "»Identifikation«" in mail.body


def test_the_send_command_sends_and_prints_what_it_did(app, session, people, smtp_server):
    app.config.update({"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp_server.port})
    result = app.test_cli_runner().invoke(cli, ["notifications", "send"],
                                          catch_exceptions=False)
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert printed["mail"] == {"sent": 4, "retrying": 0, "failed": 0}
    assert sorted(r[0] for r in smtp_server.mailbox.recipients) == sorted(
        2 * [u.email for u in people])
    # The worker's idle round sends what arrived since, without doubling.
    notifications.notify(session, kind="job_finished",
                         audience=notifications.members(people[0].org_id,
                                                        roles=("company_member",)),
                         params={"name": "Tredje", "status": "failed"}, link="/workspace/3")
    session.commit()
    result = app.test_cli_runner().invoke(cli, ["worker", "--once"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert len(smtp_server.mailbox.messages) == 6
