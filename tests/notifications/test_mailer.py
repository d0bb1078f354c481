"""The mail outbox over real SMTP: sent once, retried after failures, never lost or doubled by
a crashed sender, and nothing sent for an event that rolled back."""
from __future__ import annotations

import smtplib
from datetime import timedelta

import sqlalchemy as sa

from marketplace.db import utcnow
from marketplace.notifications import mailer, runner
from marketplace.notifications import services as notifications
from marketplace.notifications.models import MailMessage, Notification


def configure(app, smtp_server, **extra):
    app.config.update({"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp_server.port,
                       "MAIL_FROM": "noreply@marketplace.example",
                       "PUBLIC_URL": "https://marketplace.example", **extra})


def tell(session, org, **params):
    notifications.notify(session, kind="job_finished",
                         audience=notifications.members(org.id),
                         params={"name": "Kvartalstal", "status": "succeeded", **params},
                         link="/workspace/7")
    session.commit()


def statuses(session):
    session.expire_all()
    return [m.status for m in session.scalars(sa.select(MailMessage).order_by(MailMessage.id))]


def test_the_outbox_reaches_the_smtp_server_once_with_link_and_no_more(
        app, session, make_org, make_user, smtp_server):
    configure(app, smtp_server)
    org = make_org("company")
    user = make_user(org, role="company_member")
    tell(session, org)
    report = runner.send_mail(app, worker="test")
    assert report is not None and report.to_json() == {"sent": 1, "retrying": 0, "failed": 0}
    [mail] = smtp_server.mailbox.messages
    assert smtp_server.mailbox.recipients == [[user.email]]
    assert mail["Subject"] == "Kørslen »Kvartalstal« er færdig"
    assert mail["From"].addresses[0].addr_spec == "noreply@marketplace.example"
    assert mail["Message-ID"].endswith("@marketplace.example>")
    text = mail.get_content()
    assert "Se mere: https://marketplace.example/workspace/7" in text
    assert "https://marketplace.example/notifications/settings" in text
    assert statuses(session) == ["sent"]
    # A second run finds nothing to send.
    assert runner.send_mail(app, worker="test").to_json()["sent"] == 0
    assert len(smtp_server.mailbox.messages) == 1


def test_a_mail_in_english_for_whoever_chose_english(app, session, make_org, make_user,
                                                     smtp_server):
    configure(app, smtp_server)
    org = make_org("company")
    user = make_user(org, role="company_member")
    from marketplace.identity import services as identity_services

    notifications.set_choices(session, actor=identity_services.staff_principal(user),
                              language="en", inbox={}, email={}, now=utcnow())
    tell(session, org)
    runner.send_mail(app, worker="test")
    [mail] = smtp_server.mailbox.messages
    assert mail["Subject"] == "The job “Kvartalstal” has finished"
    assert "See more: https://marketplace.example/workspace/7" in mail.get_content()


def test_no_server_configured_keeps_the_mail_and_the_inbox(app, session, make_org, make_user):
    org = make_org("company")
    make_user(org, role="company_member")
    tell(session, org)
    assert app.config["MAIL_SERVER"] is None
    assert runner.send_mail(app, worker="test") is None
    assert statuses(session) == ["pending"]
    assert session.scalar(sa.select(sa.func.count()).select_from(Notification)) == 1


def test_an_event_that_rolls_back_sends_nothing(app, session, make_org, make_user, smtp_server):
    configure(app, smtp_server)
    org = make_org("company")
    make_user(org, role="company_member")
    session.commit()
    notifications.notify(session, kind="job_finished", audience=notifications.members(org.id),
                         params={"name": "Kvartalstal", "status": "failed"},
                         link="/workspace/7")
    session.rollback()
    runner.send_mail(app, worker="test")
    assert smtp_server.mailbox.messages == []
    assert statuses(session) == []


def test_a_server_that_is_down_is_retried_later_and_the_mail_then_sent_once(
        app, session, make_org, make_user, smtp_server):
    configure(app, smtp_server, MAIL_PORT=1)  # nothing listens on port 1
    org = make_org("company")
    make_user(org, role="company_member")
    tell(session, org)
    report = runner.send_mail(app, worker="test")
    assert report is not None and report.retrying == 1
    session.expire_all()
    message = session.scalar(sa.select(MailMessage))
    assert message.status == "pending" and message.attempts == 1
    assert message.next_attempt_at > utcnow() + timedelta(seconds=30)
    assert message.last_error
    # Not due yet: the next run leaves it alone.
    configure(app, smtp_server)
    assert runner.send_mail(app, worker="test").sent == 0
    message.next_attempt_at = utcnow() - timedelta(seconds=1)
    session.commit()
    assert runner.send_mail(app, worker="test").sent == 1
    assert len(smtp_server.mailbox.messages) == 1
    assert statuses(session) == ["sent"]


def test_a_sender_that_died_mid_send_is_taken_over_and_the_mail_keeps_its_id(
        app, session, make_org, make_user, smtp_server):
    configure(app, smtp_server)
    org = make_org("company")
    make_user(org, role="company_member")
    tell(session, org)
    # A sender claims the message and dies before the SMTP server answers.
    crashed = mailer.claim_next(session, worker="crashed", now=utcnow())
    session.commit()
    assert crashed is not None and crashed.status == "sending"
    token = crashed.message_token
    # While its lease runs, nobody else sends it.
    assert runner.send_mail(app, worker="test").sent == 0
    assert smtp_server.mailbox.messages == []
    crashed.lease_expires_at = utcnow() - timedelta(seconds=1)
    session.commit()
    assert runner.send_mail(app, worker="test").sent == 1
    [mail] = smtp_server.mailbox.messages
    assert mail["Message-ID"] == f"<{token}@marketplace.example>"
    session.expire_all()
    message = session.scalar(sa.select(MailMessage))
    assert message.status == "sent" and message.attempts == 2


def test_a_refused_recipient_fails_at_once_and_later_mail_still_goes(
        app, session, make_org, make_user, smtp_server):
    configure(app, smtp_server)
    org = make_org("company")
    make_user(org, role="company_member")
    tell(session, org)
    tell(session, org, name="Andet job")
    calls = []

    def refusing_first(mail):
        calls.append(mail["Subject"])
        if len(calls) == 1:
            raise smtplib.SMTPRecipientsRefused({mail["To"]: (550, b"no such user")})
        mailer.smtp_transport(mailer.settings_from(app.config))(mail)

    report = mailer.send_due(app.extensions["marketplace.sessionmaker"],
                             mailer.settings_from(app.config), worker="test",
                             transport=refusing_first)
    assert report.to_json() == {"sent": 1, "retrying": 0, "failed": 1}
    assert statuses(session) == ["failed", "sent"]
    assert [m["Subject"] for m in smtp_server.mailbox.messages] == [
        "Kørslen »Andet job« er færdig"]


def test_a_message_is_given_up_after_the_last_attempt(app, session, make_org, make_user):
    org = make_org("company")
    make_user(org, role="company_member")
    tell(session, org)
    message = session.scalar(sa.select(MailMessage))
    message.attempts = mailer.MAX_ATTEMPTS
    mailer.record_failure(message, smtplib.SMTPServerDisconnected("gone"), now=utcnow())
    assert message.status == "failed"


def test_two_senders_at_once_send_every_message_exactly_once(tmp_path, monkeypatch,
                                                             smtp_server):
    """Two sender processes' worth of threads on one committed database share the outbox."""
    import threading

    from marketplace import create_app, schema
    from marketplace.db import session_scope
    from marketplace.identity import services as identity
    from tests.conftest import base_config

    url = f"sqlite:///{tmp_path / 'senders.db'}"
    schema.upgrade(url)
    monkeypatch.setenv("MARKETPLACE_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app(base_config(tmp_path, url))
    configure(app, smtp_server)
    with session_scope(app) as session:
        org = identity.create_org(session, slug="senders", name="Senders", kind="company")
        session.flush()
        for number in range(6):
            identity.add_user(session, sub=f"sender-{number}", email=f"s{number}@senders.example",
                              org=org, role="company_member")
        session.flush()
        for number in range(5):
            notifications.notify(session, kind="job_finished",
                                 audience=notifications.members(org.id),
                                 params={"name": f"Job {number}", "status": "succeeded"},
                                 link="/workspace/1")
    reports = []
    threads = [threading.Thread(target=lambda name=name: reports.append(
        runner.send_mail(app, worker=name))) for name in ("one", "two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sum(report.sent for report in reports) == 30
    ids = [mail["Message-ID"] for mail in smtp_server.mailbox.messages]
    assert len(ids) == 30 and len(set(ids)) == 30
    app.extensions["marketplace.engine"].dispose()
