"""Fixtures the drill tests share with the orchestration and storage tests."""

from tests.orchestration.conftest import app_env, catalog, webhook  # noqa: F401
from tests.storage.conftest import repos, table_service  # noqa: F401
