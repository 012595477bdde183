"""Stubbed AWS clients for the pre-flight checks: botocore Stubbers, no network."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest
from botocore.stub import Stubber


class StubbedSession:
    """A boto3-like session whose clients are botocore clients with a Stubber each (one per service)."""

    def __init__(self, *, credentials: bool = True) -> None:
        self._session = botocore.session.get_session()
        self._credentials = credentials
        self.clients: dict[str, Any] = {}
        self.stubbers: dict[str, Stubber] = {}

    def client(self, service: str, region_name: str = "eu-west-1") -> Any:
        if service not in self.clients:
            client = self._session.create_client(
                service, region_name=region_name, aws_access_key_id="testing", aws_secret_access_key="testing"
            )
            self.clients[service] = client
            self.stubbers[service] = Stubber(client)
            self.stubbers[service].activate()
        return self.clients[service]

    def stub(self, service: str) -> Stubber:
        self.client(service)
        return self.stubbers[service]

    def get_credentials(self) -> object | None:
        return object() if self._credentials else None

    def assert_all_called(self) -> None:
        for stubber in self.stubbers.values():
            stubber.assert_no_pending_responses()


@pytest.fixture
def aws() -> Iterator[StubbedSession]:
    session = StubbedSession()
    yield session
    session.assert_all_called()
