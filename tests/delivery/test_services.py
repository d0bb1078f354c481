"""Extracts end to end through the services: request, build, manifest, download, failures."""
from __future__ import annotations

import hashlib
import io
from datetime import timedelta

import pandas as pd
import pytest

from marketplace.db import utcnow
from marketplace.delivery import extract_jobs, output, services
from marketplace.errors import Conflict, Invalid, NotFound


def test_extract_is_built_pseudonymised_and_signed(session, world, build, keyring, data_dir):
    permit = world.make_permit()
    extract = services.request_extract(session, actor=world.company_actor, permit_id=permit.id,
                                       dataset_id=None, now=utcnow())
    assert extract.status == "queued"
    built = build(extract.id)
    assert built.status == "succeeded", built.error
    assert built.progress == 1.0
    manifest = built.manifest
    assert output.verify_manifest(manifest, public_key_b64=keyring.public_key_b64)
    assert manifest["rows_in"] == len(world.data)
    assert manifest["rows_out"] + manifest["rows_suppressed"] <= manifest["rows_in"]
    assert manifest["k"] >= 3
    download = services.download_extract(session, actor=world.company_actor,
                                         extract_id=built.id, fmt="parquet", keyring=keyring,
                                         data_dir=data_dir, now=utcnow())
    frame = pd.read_parquet(io.BytesIO(b"".join(download.body)))
    assert list(frame.columns) == ["pseudonym", "birth_date", "sex", "postcode",
                                   "admission_date", "diagnosis", "length_of_stay"]
    assert len(frame) == manifest["rows_out"]
    text = frame.astype(str).to_csv()
    for cpr in world.data["cpr"].astype(str).unique():
        assert cpr not in text and cpr.replace("-", "") not in text


def _request(session, world, permit, dataset_id=None):
    return services.request_extract(session, actor=world.company_actor, permit_id=permit.id,
                                    dataset_id=dataset_id, now=utcnow())


def _parquet(session, world, extract, keyring, data_dir) -> bytes:
    download = services.download_extract(session, actor=world.company_actor,
                                         extract_id=extract.id, fmt="parquet", keyring=keyring,
                                         data_dir=data_dir, now=utcnow())
    return b"".join(download.body)


def test_every_citizen_in_the_extract_gets_a_transparency_record(session, world, build,
                                                                  keyring, data_dir):
    import sqlalchemy as sa

    from marketplace.consent.models import DataUse, DataUseSubject

    permit = world.make_permit()
    built = build(_request(session, world, permit).id)
    keys = set(session.scalars(sa.select(DataUseSubject.subject_key)
                               .join(DataUse, DataUse.id == DataUseSubject.use_id)
                               .where(DataUse.extract_id == built.id)))
    assert len(keys) == built.report["persons_out"] > 0
    (use,) = session.scalars(sa.select(DataUse).where(DataUse.extract_id == built.id))
    assert (use.dataset_id, use.persons) == (permit.dataset_ids[0], len(keys))
    frame = pd.read_parquet(io.BytesIO(_parquet(session, world, built, keyring, data_dir)))
    assert frame["pseudonym"].nunique() == len(keys)


def test_a_retry_gives_byte_identical_parquet(session, world, build, keyring, data_dir):
    permit = world.make_permit()
    first = build(_request(session, world, permit).id)
    second = build(_request(session, world, permit).id)
    assert first.manifest["sha256"] == second.manifest["sha256"]
    assert (_parquet(session, world, first, keyring, data_dir)
            == _parquet(session, world, second, keyring, data_dir))


def test_pseudonyms_link_within_a_permit_and_not_across_permits(session, world, build, keyring,
                                                                data_dir):
    one, two = world.make_permit(), world.make_permit()
    a = pd.read_parquet(io.BytesIO(_parquet(
        session, world, build(_request(session, world, one).id), keyring, data_dir)))
    b = pd.read_parquet(io.BytesIO(_parquet(
        session, world, build(_request(session, world, two).id), keyring, data_dir)))
    assert not set(a["pseudonym"]) & set(b["pseudonym"])


def test_a_crashed_job_leaves_nothing_visible_and_is_taken_over(session, world, build, app,
                                                                 data_dir):
    permit = world.make_permit()
    extract = _request(session, world, permit)
    claimed = services.claim_next_extract(session, worker="dead-worker", now=utcnow(),
                                          extract_id=extract.id)
    assert claimed.status == "running"
    assert services.claim_next_extract(session, worker="other", now=utcnow(),
                                       extract_id=extract.id) is None
    services.extract_path(extract.id, data_dir=data_dir).parent.mkdir(parents=True,
                                                                        exist_ok=True)
    services.extract_path(extract.id, data_dir=data_dir).write_bytes(b"half a file")
    claimed.lease_expires_at = utcnow() - timedelta(seconds=1)
    session.flush()
    with pytest.raises(Conflict):
        services.extract_manifest(session, actor=world.company_actor, extract_id=extract.id)
    built = build(extract.id)
    assert built.status == "succeeded" and built.attempts == 2


def test_an_expired_or_revoked_permit_gets_a_clear_error_and_no_extract(session, world):
    expired = world.make_permit(approved_at=utcnow() - timedelta(days=10),
                                valid_for=timedelta(days=1))
    with pytest.raises(Conflict, match="tilladelsen er udløbet"):
        _request(session, world, expired)
    revoked = world.make_permit()
    revoked.stored_status = "revoked"
    session.flush()
    with pytest.raises(Conflict, match="tilladelsen er tilbagekaldt"):
        _request(session, world, revoked)
    assert services.list_extracts(session, actor=world.company_actor) == []


def test_a_permit_revoked_while_queued_fails_the_job(session, world, build):
    permit = world.make_permit()
    extract = _request(session, world, permit)
    permit.stored_status = "revoked"
    built = build(extract.id)
    assert built.status == "failed" and "tilbagekaldt" in built.error
    assert built.path is None and built.manifest is None


def test_a_changed_data_version_fails_the_job(session, world, build, upload):
    from tests.delivery.conftest import admissions_csv

    permit = world.make_permit()
    extract = _request(session, world, permit)
    upload(world.holder_actor, world.dataset, admissions_csv(seed=99)[0])
    built = build(extract.id)
    assert built.status == "failed" and "dataversion er ændret" in built.error


def test_a_truncated_data_file_fails_the_job_with_no_output(session, world, build, data_dir):
    from marketplace.catalog import services as catalog_services

    permit = world.make_permit()
    extract = _request(session, world, permit)
    version = catalog_services.current_version(session, dataset=world.dataset)
    path = catalog_services.version_path(version, data_dir=data_dir)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    built = build(extract.id)
    assert built.status == "failed" and "afkortet" in built.error
    assert not services.extract_path(extract.id, data_dir=data_dir).exists()


def test_a_tampered_extract_file_is_refused(session, world, build, keyring, data_dir):
    built = build(_request(session, world, world.make_permit()).id)
    path = data_dir / built.path
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(Invalid):
        services.download_extract(session, actor=world.company_actor, extract_id=built.id,
                                  fmt="parquet", keyring=keyring, data_dir=data_dir,
                                  now=utcnow())


def test_only_the_permit_company_may_request_or_download(session, world, build, make_org,
                                                        make_user, keyring, data_dir):
    from marketplace.identity import services as identity_services

    other = identity_services.staff_principal(make_user(make_org(kind="company"),
                                                        role="company_member"))
    permit = world.make_permit()
    with pytest.raises(NotFound):
        services.request_extract(session, actor=other, permit_id=permit.id, dataset_id=None,
                                 now=utcnow())
    built = build(_request(session, world, permit).id)
    with pytest.raises(NotFound):
        services.download_extract(session, actor=other, extract_id=built.id, fmt="csv",
                                  keyring=keyring, data_dir=data_dir, now=utcnow())
    with pytest.raises(NotFound):
        services.require_visible_extract(session, extract_id=built.id, actor=other)


def test_download_stops_when_the_permit_expires(session, world, build, keyring, data_dir):
    permit = world.make_permit()
    built = build(_request(session, world, permit).id)
    with pytest.raises(Conflict, match="tilladelsen er udløbet"):
        services.download_extract(session, actor=world.company_actor, extract_id=built.id,
                                  fmt="parquet", keyring=keyring, data_dir=data_dir,
                                  now=permit.valid_until + timedelta(seconds=1))


def test_a_dataset_outside_the_permit_is_refused(session, world):
    with pytest.raises(Invalid):
        _request(session, world, world.make_permit(), dataset_id=world.dataset.id + 999)


def test_csv_download_has_the_same_rows_as_parquet(session, world, build, keyring, data_dir):
    built = build(_request(session, world, world.make_permit()).id)
    download = services.download_extract(session, actor=world.company_actor, extract_id=built.id,
                                         fmt="csv", keyring=keyring, data_dir=data_dir,
                                         now=utcnow())
    frame = pd.read_csv(io.BytesIO(b"".join(download.body)))
    assert len(frame) == built.manifest["rows_out"]
    assert "pseudonym" in frame.columns


def test_the_extract_is_audited(session, world, build):
    import sqlalchemy as sa

    from marketplace.audit import AuditEntry, verify_audit_chain

    built = build(_request(session, world, world.make_permit()).id)
    actions = set(session.scalars(sa.select(AuditEntry.action)
                                  .where(AuditEntry.subject_id == str(built.id))))
    assert {"extract.requested", "extract.succeeded"} <= actions
    assert verify_audit_chain(session).ok


def test_opt_out_before_approval_excludes_the_citizen_and_after_does_not(
        session, world, build, make_citizen, keyring):
    import sqlalchemy as sa

    from marketplace.consent import services as consent_services
    from marketplace.consent.models import DataUse, DataUseSubject
    from marketplace.identity import services as identity_services

    cprs = world.data["cpr"].astype(str).unique()
    early, _ = make_citizen(cpr=cprs[0])
    late, _ = make_citizen(cpr=cprs[1])
    approved = utcnow() - timedelta(hours=1)
    consent_services.set_opt_out(session, actor=identity_services.citizen_principal(early),
                                 opted_out=True, now=approved - timedelta(hours=1))
    consent_services.set_opt_out(session, actor=identity_services.citizen_principal(late),
                                 opted_out=True, now=approved + timedelta(minutes=5))
    permit = world.make_permit(approved_at=approved, k_min=1)
    built = build(_request(session, world, permit).id)
    keys = set(session.scalars(sa.select(DataUseSubject.subject_key)
                               .join(DataUse, DataUse.id == DataUseSubject.use_id)
                               .where(DataUse.extract_id == built.id)))
    assert early.cpr_index not in keys
    assert late.cpr_index in keys


def test_an_extract_whose_worker_keeps_dying_is_failed_and_the_queue_moves_on(session, world):
    permit = world.make_permit()
    stuck = _request(session, world, permit)
    waiting = _request(session, world, permit)
    stuck.status, stuck.attempts = "running", services.MAX_ATTEMPTS
    stuck.lease_expires_at = utcnow() - timedelta(minutes=1)
    session.flush()
    claimed = services.claim_next_extract(session, worker="w", now=utcnow())
    assert claimed.id == waiting.id
    assert stuck.status == "failed" and "repeatedly" in stuck.error


def test_large_versions_run_on_dask_with_the_same_output(app, session, world, build, keyring,
                                                         data_dir, monkeypatch):
    pytest.importorskip("distributed")
    permit = world.make_permit()
    # Small chunks so that several partitions travel through the cluster.
    monkeypatch.setattr(extract_jobs, "BATCH_ROWS", 97)
    on_pandas = build(_request(session, world, permit).id)
    monkeypatch.setitem(app.config, "DASK_MIN_ROWS", len(world.data))
    on_dask = build(_request(session, world, permit).id)
    assert on_dask.status == "succeeded", on_dask.error
    assert (on_pandas.report["executor"], on_dask.report["executor"]) == ("pandas", "dask")
    assert on_dask.manifest["rows_out"] == on_pandas.manifest["rows_out"]
    assert on_dask.manifest["sha256"] == on_pandas.manifest["sha256"]  # byte-identical
    pandas_rows = pd.read_parquet(io.BytesIO(_parquet(session, world, on_pandas, keyring,
                                                      data_dir)))
    dask_rows = pd.read_parquet(io.BytesIO(_parquet(session, world, on_dask, keyring,
                                                    data_dir)))
    pd.testing.assert_frame_equal(dask_rows, pandas_rows)


def test_below_the_threshold_the_extract_stays_on_pandas(app, session, world, build,
                                                         monkeypatch):
    monkeypatch.setitem(app.config, "DASK_MIN_ROWS", len(world.data) + 1)
    built = build(_request(session, world, world.make_permit()).id)
    assert built.report["executor"] == "pandas"


def test_parquet_download_streams_in_pieces_verified_first(session, world, build, keyring,
                                                           data_dir):
    built = build(_request(session, world, world.make_permit()).id)
    download = services.download_extract(session, actor=world.company_actor,
                                         extract_id=built.id, fmt="parquet", keyring=keyring,
                                         data_dir=data_dir, now=utcnow())
    pieces = list(download.body)
    assert hashlib.sha256(b"".join(pieces)).hexdigest() == built.manifest["sha256"]
    # A file swapped after the check (validly encrypted, other content) stops the stream
    # before its last piece.
    download = services.download_extract(session, actor=world.company_actor,
                                         extract_id=built.id, fmt="parquet", keyring=keyring,
                                         data_dir=data_dir, now=utcnow())
    keyring.write_encrypted(data_dir / built.path, [b"PAR1 other rows PAR1"],
                            context=f"delivery/extract/{built.id}")
    sent = []
    with pytest.raises(Invalid):
        for piece in download.body:
            sent.append(piece)
    assert sent == []


def test_a_tampered_extract_is_refused_before_any_byte_in_csv_too(session, world, build,
                                                                  keyring, data_dir):
    built = build(_request(session, world, world.make_permit()).id)
    path = data_dir / built.path
    raw = bytearray(path.read_bytes())
    raw[-5] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(Invalid):
        services.download_extract(session, actor=world.company_actor, extract_id=built.id,
                                  fmt="csv", keyring=keyring, data_dir=data_dir, now=utcnow())


def test_a_large_extract_file_is_sent_piece_by_piece(keyring, tmp_path):
    data = bytes(range(256)) * (3 * 4096 + 7)  # about 3 MB
    path = tmp_path / "extract.enc"
    sha256 = keyring.write_encrypted(path, [data], context="delivery/extract/1")
    stored = services.StoredExtract(path=path, context="delivery/extract/1", sha256=sha256)
    pieces = list(services.stream_extract_parquet(stored, keyring=keyring))
    assert len(pieces) > 1 and max(map(len, pieces)) < len(data)
    assert b"".join(pieces) == data
    with pytest.raises(Invalid):
        services.verify_extract(services.StoredExtract(path, "delivery/extract/2", sha256),
                                keyring=keyring)


def test_a_configured_scheduler_receives_the_work_over_the_network(app, session, world, build,
                                                                   keyring, data_dir,
                                                                   monkeypatch):
    distributed = pytest.importorskip("distributed")
    permit = world.make_permit()
    expected = build(_request(session, world, permit).id)
    monkeypatch.setattr(services, "BATCH_ROWS", 200)
    monkeypatch.setitem(app.config, "DASK_MIN_ROWS", 1)
    # TCP, so the plan and the chunks are serialised as for a remote cluster.
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  protocol="tcp", dashboard_address=None) as cluster:
        monkeypatch.setitem(app.config, "DASK_SCHEDULER_ADDRESS", cluster.scheduler_address)
        built = build(_request(session, world, permit).id)
    assert built.status == "succeeded", built.error
    assert built.report["executor"] == "dask"
    # Other chunks make other row groups, but the same rows.
    pd.testing.assert_frame_equal(
        pd.read_parquet(io.BytesIO(_parquet(session, world, built, keyring, data_dir))),
        pd.read_parquet(io.BytesIO(_parquet(session, world, expected, keyring, data_dir))))
