"""Business rules of the delivery domain, as other domains and the edge reach them.

The rules live in modules by concern: `extracts` (finding and requesting extracts),
`extract_jobs` (building one as a durable job), `downloads` (handing it out with its signed
manifest) and `cohorts` (the cohort estimate the access engine decides on).
"""
from __future__ import annotations

from marketplace.delivery.downloads import (  # noqa: F401
    Download,
    StoredExtract,
    download_extract,
    extract_manifest,
    read_extract_parquet,
    signing_key,
    stream_extract_parquet,
    verify_extract,
)
from marketplace.delivery.extract_jobs import (  # noqa: F401
    BATCH_ROWS,
    LEASE,
    MAX_ATTEMPTS,
    ProgressCallback,
    claim_next_extract,
    extract_context,
    extract_path,
    fail_extract,
    permit_keys,
    plan_for,
    remove_leftover_files,
    run_extract,
)
from marketplace.delivery.extracts import (  # noqa: F401
    EXTRACT_STATES,
    PermitOverview,
    extract_to_json,
    get_extract,
    is_record_level,
    list_extracts,
    list_usable_permits,
    page_extract_queue,
    permitted_entry,
    request_extract,
    require_downloadable_permit,
    require_extract,
    require_visible_extract,
    retry_extract,
)
