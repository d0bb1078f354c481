"""Human release of outputs: two different checkers of the holder, nobody else, signed manifests,
downloads only after release, everything in the audit chain."""
from __future__ import annotations

from datetime import timedelta

import pytest

from marketplace import audit
from marketplace.db import utcnow
from marketplace.delivery.output import verify_manifest
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.identity.principal import Principal
from marketplace.workspace import release
from marketplace.workspace.models import OutputPolicy, output_path
from marketplace.workspace.release_schemas import OutputPolicyIn, OutputReviewIn
from tests.workspace import release_world as fixtures
from tests.workspace.release_world import SAFE_TABLE, SMALL_CELLS, make_job, make_permit

release_world = fixtures.release_world

APPROVE = OutputReviewIn(decision="approve", comment="")


@pytest.fixture
def decide(session, keyring, data_dir):
    def run(world, user, output, review=APPROVE, *, actor: Principal | None = None):
        result = release.review_output(
            session, actor=actor or world.principal(user), output_id=output.id, review=review,
            keyring=keyring, data_dir=data_dir, now=utcnow())
        session.commit()
        return result

    return run


def test_two_different_checkers_release_with_a_signed_manifest(session, release_world, decide,
                                                               keyring):
    world = release_world
    output = world.make_output()
    assert decide(world, world.checker_a, output).status == "pending_review"
    released = decide(world, world.checker_b, output, OutputReviewIn(decision="approve",
                                                               comment="Sikre tal."))
    assert released.status == "released" and released.released_at is not None
    manifest = release.output_manifest(session, actor=world.principal(world.company_user),
                                       output_id=output.id)
    assert verify_manifest(manifest, public_key_b64=keyring.public_key_b64)
    assert manifest["sha256"] == output.sha256
    assert manifest["script_sha256"] == world.job.script_sha256
    assert {r["reviewer"] for r in manifest["reviewers"]} == {
        f"staff:herlev-output:{world.checker_a.id}", f"staff:herlev-output:{world.checker_b.id}"}
    assert {c["rule"] for c in manifest["checks"]} >= {"file_type", "cpr", "cell_threshold"}
    tampered = {**manifest, "sha256": "0" * 64}
    assert not verify_manifest(tampered, public_key_b64=keyring.public_key_b64)
    actions = [e.action for e in audit.audit_trail(session, subject_type="workspace_output",
                                                   subject_id=str(output.id))]
    assert actions == ["output.approve", "output.approve", "output.released"]
    assert audit.verify_audit_chain(session).ok


def test_one_checker_cannot_approve_twice(session, release_world, decide):
    world = release_world
    output = world.make_output()
    decide(world, world.checker_a, output)
    with pytest.raises(Conflict):
        decide(world, world.checker_a, output)
    session.expire_all()
    assert release.require_output(session, output_id=output.id).status == "pending_review"
    assert len(release.require_output(session, output_id=output.id).reviews) == 1


def test_the_company_cannot_check_its_own_outputs(release_world, decide):
    world = release_world
    output = world.make_output()
    with pytest.raises(Forbidden):
        decide(world, world.company_user, output)
    # Even a principal of the company that somehow holds the checking scope.
    forged = Principal(kind="client", client_id=9, org_id=world.company.id,
                       org_slug=world.company.slug, scopes=frozenset({"output:check"}))
    with pytest.raises(Forbidden):
        decide(world, None, output, actor=forged)
    assert output.status == "pending_review"


def test_a_checker_of_another_holder_cannot_act_or_see(session, release_world, decide):
    world = release_world
    output = world.make_output()
    with pytest.raises(NotFound):
        decide(world, world.rival_checker, output)
    with pytest.raises(NotFound):
        release.require_visible_output(session, actor=world.principal(world.rival_checker),
                                       output_id=output.id)
    assert release.review_queue(session, actor=world.principal(world.rival_checker),
                                now=utcnow()) == []


def test_holder_staff_without_the_checker_role_cannot_act(release_world, decide):
    world = release_world
    with pytest.raises(Forbidden):
        decide(world, world.holder_admin, world.make_output())


def test_unknown_outputs_are_not_found(release_world, decide):
    world = release_world
    missing = type("Missing", (), {"id": 2**31 - 1})()
    with pytest.raises(NotFound):
        decide(world, world.checker_a, missing)


def test_rejection_and_request_for_changes_close_the_review(session, release_world, decide):
    world = release_world
    rejected = world.make_output()
    decide(world, world.checker_a, rejected,
           OutputReviewIn(decision="reject", comment="Mikrodata."))
    assert rejected.status == "rejected"
    with pytest.raises(Conflict):
        decide(world, world.checker_b, rejected)
    changes = world.make_output(name="other.csv")
    decide(world, world.checker_a, changes,
           OutputReviewIn(decision="request_changes", comment="Rund tallene af til nærmeste 5."))
    assert changes.status == "changes_requested"


def test_one_checker_releases_where_the_holder_asks_for_one(session, release_world, decide):
    world = release_world
    session.add(OutputPolicy(dataset_id=world.dataset.id, cell_threshold=5, checkers_required=1,
                             allowed_types=["csv"]))
    session.commit()
    output = world.make_output()
    assert decide(world, world.checker_a, output).status == "released"


def test_every_holder_of_the_permit_must_approve(session, release_world, decide, make_user):
    world = release_world
    second = fixtures._dataset(session, world.rival_holder, "Albertslund genoptræning")
    permit = make_permit(session, world.company, [world.dataset, second])
    output = world.make_output(job_row=make_job(session, permit))
    output.holder_org_ids = [world.holder.id, world.rival_holder.id]
    session.commit()
    decide(world, world.checker_a, output)
    decide(world, world.checker_b, output)
    assert output.status == "pending_review"  # the second holder has not approved yet
    assert decide(world, world.rival_checker, output).status == "released"


def test_approving_a_failed_check_needs_a_comment(release_world, decide):
    world = release_world
    output = world.make_output(SMALL_CELLS)
    assert release.summary_outcome(output.checks) == "fail"
    with pytest.raises(Invalid) as refused:
        decide(world, world.checker_a, output)
    assert refused.value.errors[0]["field"] == "comment"
    decide(world, world.checker_a, output,
           OutputReviewIn(decision="approve", comment="Cellen er strukturel og kendt offentligt."))
    assert len(output.reviews) == 1


def test_an_output_with_a_cpr_number_is_never_released(release_world, decide):
    world = release_world
    output = world.make_output(b"note\n01.01.90\xe2\x80\x931234\n", name="notes.csv")
    with pytest.raises(Conflict):
        decide(world, world.checker_a, output, OutputReviewIn(decision="approve", comment="Ok."))


def test_download_only_after_release_and_only_for_the_company(session, release_world, decide,
                                                              keyring, data_dir):
    world = release_world
    output = world.make_output()

    def download(user):
        return release.download_output(session, actor=world.principal(user),
                                       output_id=output.id, keyring=keyring, data_dir=data_dir)

    with pytest.raises(Conflict):
        download(world.company_user)
    decide(world, world.checker_a, output)
    decide(world, world.checker_b, output)
    assert b"".join(download(world.company_user).body) == SAFE_TABLE
    with pytest.raises(NotFound):
        download(world.rival_company_user)
    with pytest.raises(Forbidden):
        download(world.checker_a)
    actions = [e.action for e in audit.audit_trail(session, subject_type="workspace_output",
                                                   subject_id=str(output.id))]
    assert actions[-1] == "output.downloaded"


def test_a_stored_output_changed_after_checking_is_neither_released_nor_served(
        session, release_world, decide, keyring, data_dir):
    world = release_world
    output = world.make_output()
    swapped = world.make_output(b"sex,n\nfemale,1\n", name="swapped.csv")
    path = output_path(output.id, data_dir=data_dir)
    path.write_bytes(output_path(swapped.id, data_dir=data_dir).read_bytes())
    decide(world, world.checker_a, output)
    with pytest.raises((Conflict, Invalid)) as failed:
        decide(world, world.checker_b, output)
    assert isinstance(failed.value, Conflict | Invalid)
    session.rollback()
    session.expire_all()
    assert release.require_output(session, output_id=output.id).status == "pending_review"


def test_the_queue_shows_the_most_urgent_first_with_the_clock(session, release_world, decide):
    world = release_world
    fresh = world.make_output(name="fresh.csv")
    old = world.make_output(name="old.csv", created_days_ago=14)
    done = world.make_output(name="done.csv")
    decide(world, world.checker_a, done, OutputReviewIn(decision="reject", comment="Nej."))
    queue = release.review_queue(session, actor=world.principal(world.checker_b), now=utcnow())
    assert [s.output.id for s in queue] == [old.id, fresh.id]
    assert queue[0].overdue and queue[0].working_days_left < 0
    assert 3 <= queue[1].working_days_left <= 5
    with pytest.raises(Forbidden):
        release.review_queue(session, actor=world.principal(world.company_user), now=utcnow())


def test_released_outputs_appear_per_permit_for_the_register_and_citizens(session,
                                                                         release_world, decide):
    world = release_world
    output = world.make_output()
    world.make_output(name="pending.csv")
    decide(world, world.checker_a, output)
    decide(world, world.checker_b, output)
    found = release.released_outputs(session, permit_ids=[world.permit.id, 2**31 - 1])
    assert [r.to_json()["name"] for r in found[world.permit.id]] == ["table.csv"]
    uses = release.permit_uses(session, permit_ids=[world.permit.id])
    assert uses[world.permit.id].jobs_run == 1
    assert [r.output_id for r in uses[world.permit.id].released] == [output.id]
    assert release.permit_uses(session, permit_ids=[]) == {}


def test_holders_set_output_rules_per_dataset(session, release_world):
    world = release_world
    admin = world.principal(world.holder_admin)
    policy = release.set_output_policy(
        session, actor=admin, dataset_id=world.dataset.id,
        policy=OutputPolicyIn(cell_threshold=10, checkers_required=1,
                              allowed_types=["CSV", ".png", "csv"]))
    assert (policy.cell_threshold, policy.checkers_required, policy.allowed_types) == (
        10, 1, ["csv", "png"])
    rules = release.rules_for_permit(session, permit=world.permit)
    assert rules.cell_threshold == 10 and rules.allowed_types == frozenset({"csv", "png"})
    for user in (world.checker_a, world.company_user):
        with pytest.raises(Forbidden):
            release.set_output_policy(session, actor=world.principal(user),
                                      dataset_id=world.dataset.id,
                                      policy=OutputPolicyIn(cell_threshold=1, checkers_required=1,
                                                            allowed_types=["csv"]))
    assert release.get_output_policy(session, dataset_id=world.dataset.id).cell_threshold == 10


def test_the_due_date_is_five_working_days_after_collection(release_world):
    world = release_world
    output = world.make_output()
    due = release.due_at(output)
    assert timedelta(days=5) <= due - output.created_at <= timedelta(days=11)


def test_acro_results_are_summarised_for_the_checker(release_world):
    acro = {"version": "1.0.2", "results": {"output_0": {
        "uid": "output_0", "status": "fail", "type": "table",
        "files": [{"name": "table.csv", "sdc": {"summary": {"MinimumThresholdCheck": 1}}}],
        "command": "acro.crosstab(df.sex, df.region)", "comments": ["Kønsfordeling"],
        "exception": "Cellen er strukturel"}}}
    output = release_world.make_output(acro=acro)
    summary = release.acro_for(output)
    assert summary["status"] == "fail" and summary["exception"] == "Cellen er strukturel"
    assert summary["flagged"] == {"MinimumThresholdCheck": 1}
    assert summary["comments"] == ["Kønsfordeling"]




def test_a_hostile_output_name_gives_a_safe_download_name(session, release_world, decide,
                                                          keyring, data_dir):
    world = release_world
    output = world.make_output(name='tabel "1"\r\nX-Evil: ja.csv')
    decide(world, world.checker_a, output)
    decide(world, world.checker_b, output)
    download = release.download_output(session, actor=world.principal(world.company_user),
                                       output_id=output.id, keyring=keyring, data_dir=data_dir)
    assert download.filename == "tabel_1_X-Evil_ja.csv"
