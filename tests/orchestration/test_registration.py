"""Every name the jobs are called by is registered on the app, with the right trigger."""

from __future__ import annotations

from shared import jobs
from tests.orchestration.conftest import forget_app_modules


def test_every_job_name_is_registered_once_with_its_trigger() -> None:
    forget_app_modules()
    import function_app

    triggers = {
        function.get_function_name(): function.get_trigger().type
        for function in function_app.app.get_functions()
    }
    forget_app_modules()
    for name in jobs.ORCHESTRATOR_NAMES:
        assert triggers.get(name) == "orchestrationTrigger", name
    for name in jobs.ACTIVITY_NAMES:
        assert triggers.get(name) == "activityTrigger", name
    for name in jobs.ENTITY_NAMES:
        assert triggers.get(name) == "entityTrigger", name
    assert triggers.get(jobs.WATCHDOG) == "timerTrigger"
