"""Fixtures of the OPC UA driver tests: a plain asyncua server and a sample collector."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from collectors.samples import Sample
from tests.collectors.drivers.opcua.servers import PlainServer


class Collected(list):
    """A SampleSink that keeps everything (the store is not under test here)."""

    def __call__(self, samples: list[Sample]) -> None:
        self.extend(samples)

    def of(self, tag: str) -> list[Sample]:
        return [sample for sample in self if sample.tag == tag]


@pytest.fixture
def collected() -> Collected:
    return Collected()


@pytest.fixture
async def plain_server() -> AsyncIterator[PlainServer]:
    server = await PlainServer().start()
    yield server
    await server.stop()


@pytest.fixture
def pki(tmp_path):
    return tmp_path / "pki"
