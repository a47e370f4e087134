from __future__ import annotations

from collections.abc import Iterator

import pytest
from _server import ManifestServer


@pytest.fixture(scope="session")
def _manifest_server_session() -> Iterator[ManifestServer]:
    """One real HTTP server on 127.0.0.1 for the whole session, stopped and joined at the end."""
    with ManifestServer() as server:
        yield server


@pytest.fixture
def manifest_server(_manifest_server_session: ManifestServer) -> Iterator[ManifestServer]:
    """The session's manifest server, with no routes and no recorded requests."""
    _manifest_server_session.reset()
    yield _manifest_server_session
    _manifest_server_session.reset()
