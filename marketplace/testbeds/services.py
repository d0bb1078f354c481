"""The testbeds domain's services, as other domains and the edge reach them.

The rules live in modules by sub-area: `environments`, `solutions` (profiles and matching),
`courses`, `evidence` and `procurement`. They take the validated commands of `commands`.
"""

from __future__ import annotations

from marketplace.testbeds.commands import VOCABULARY  # noqa: F401
from marketplace.testbeds.courses import (  # noqa: F401
    PROCUREMENT_INPUTS_OPEN,
    CourseFigures,
    can_view_course,
    change_test_course,
    course_figures,
    get_test_course,
    is_public_buyer,
    list_open_courses,
    list_test_courses,
    log_course_event,
    outcome_corrections,
    party_of,
    propose_test_course,
    record_outcome,
    require_course_for_access,
    require_open_for_outcomes,
    require_test_course,
)
from marketplace.testbeds.environments import (  # noqa: F401
    HOST_ROLES,
    create_test_environment,
    environment_datasets,
    free_slots,
    get_test_environment,
    get_test_environment_by_slug,
    hosted_environment_ids,
    hosts_environment,
    linkable_datasets,
    list_test_environments,
    require_host,
    require_test_environment,
    select_environments,
    update_test_environment,
)
from marketplace.testbeds.evidence import (  # noqa: F401
    EVIDENCE_MAX_BYTES,
    EVIDENCE_TYPES,
    add_evidence,
    detect_evidence_type,
    read_evidence,
)
from marketplace.testbeds.procurement import (  # noqa: F401
    build_dossier,
    start_procurement,
)
from marketplace.testbeds.solutions import (  # noqa: F401
    EnvironmentMatch,
    MatchResult,
    create_solution_profile,
    describe_and_match,
    list_solution_profiles,
    match_environments,
    profile_of,
    require_company,
    require_solution_profile,
    suggest_datasets,
    update_solution_profile,
)
