"""Analytics-store fixtures shared by the query and report tests.

chDB hosts one engine (one data path) per process: every test here uses the one session
data directory and isolates itself in a database of its own, dropped afterwards; no client
stays open between tests, so other modules may still use a path of their own.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from clickhouse_connect.driver.client import Client

from infra.clickhouse import connect, migrate
from infra.config import Settings


@pytest.fixture(scope="session")
def analytics_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings whose ClickHouse is embedded chDB under a session data dir (or INSITU_CLICKHOUSE_DSN)."""
    return Settings(data_dir=tmp_path_factory.mktemp("analytics"))


@pytest.fixture
def clickhouse(analytics_settings: Settings) -> Iterator[Client]:
    """A client on a fresh, empty database of this test's own, dropped afterwards."""
    database = f"test_{uuid.uuid4().hex[:12]}"
    client = connect(analytics_settings, database=database)
    try:
        yield client
    finally:
        client.command(f"DROP DATABASE IF EXISTS {database}")
        client.close()


@pytest.fixture
def analytics(clickhouse: Client) -> Client:
    """``clickhouse``, migrated."""
    migrate(clickhouse)
    return clickhouse
