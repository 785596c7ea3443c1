"""The S7 driver against snap7's own server (the simulator's S7 face) on a loopback port."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator

import pytest

from collectors.config.models import S7Connection, Tag
from collectors.drivers.s7 import S7Driver, parse_address, plan_requests, s7_worker
from collectors.errors import ConfigError, PartialRead
from collectors.samples import Sample, is_bad, is_good
from simulator.s7 import S7Face
from tests.conftest import free_port

VALUES: dict[str, tuple[str, float | str]] = {
    "db_bool": ("DB1,X0.3", 1.0), "db_bool_off": ("DB1,X0.4", 0.0), "db_int": ("DB1,INT2", -12345.0),
    "db_dint": ("DB1,DINT4", -2_000_000_000.0), "db_real": ("DB1,REAL8", 21.5),
    "db_lreal": ("DB1,LREAL12", 0.1 + 0.2), "db_string": ("DB1,STRING20.16", "Brau-Linie 3"),
    "db_wstring": ("DB1,WSTRING40.8", "灌装线 2"), "db_dt": ("DB1,DT60", "2026-12-07T08:30:15.123000"),
    "m_bool": ("M,X1.7", 1.0), "m_int": ("M,INT10", 321.0), "m_real": ("DB2,REAL0", -0.25),
    "i_bool": ("I,X0.0", 1.0), "i_int": ("I,INT2", 7.0), "q_bool": ("Q,X0.1", 1.0), "q_dint": ("Q,DINT4", 65_536.0),
}  # fmt: skip


@pytest.fixture
def face() -> Iterator[S7Face]:
    plc = S7Face(free_port(), {1: 512, 2: 64})
    for address, value in VALUES.values():
        plc.set(address, value)
    plc.start()
    yield plc
    plc.stop()


def connection(port: int, **extra: object) -> S7Connection:
    return S7Connection.model_validate({"id": "plc", "protocol": "s7", "host": "127.0.0.1", "port": port,
                                        "timeout": 1.0, **extra})  # fmt: skip


def read_once(driver: S7Driver) -> list[Sample]:
    """Connect, read the default group, close."""

    async def read() -> list[Sample]:
        await driver.connect()
        try:
            return await driver.read_group("default")
        finally:
            await driver.close()

    return asyncio.run(read())


def tags(addresses: dict[str, str]) -> list[Tag]:
    return [Tag(name=name, connection="plc", s7_address=address) for name, address in addresses.items()]


def test_every_type_and_area_reads_exactly(face: S7Face) -> None:
    driver = S7Driver(connection(face.port), tags({name: address for name, (address, _) in VALUES.items()}))
    samples = read_once(driver)
    assert {s.tag: s.value for s in samples} == {name: value for name, (_, value) in VALUES.items()}
    assert all(is_good(s.status) for s in samples)


def test_requests_fit_the_pdu_hand_counted() -> None:
    """60 REALs 100 bytes apart: an item per tag. At PDU 240 a request holds 19 items (12 + 12 x 19 = 240
    bytes of request), at 480 the protocol's 20: 4 and 3 requests. 100 adjacent REALs (400 bytes) at PDU 240:
    blocks of at most 221 bytes (240 - 14 - 4 - 1), so 55 + 45 REALs, and each block its own request."""
    spread = [(f"t{i}", parse_address(f"DB1,REAL{i * 100}")) for i in range(60)]
    small, large = plan_requests(spread, 240), plan_requests(spread, 480)
    assert [len(r.blocks) for r in small] == [19, 19, 19, 3] and [len(r.blocks) for r in large] == [20, 20, 20]
    for plan, pdu in ((small, 240), (large, 480)):
        assert all(r.request_bytes() <= pdu and r.answer_bytes() <= pdu for r in plan)
        assert sorted(n for r in plan for b in r.blocks for n, _ in b.tags) == sorted(n for n, _ in spread)
    adjacent = [(f"a{i}", parse_address(f"DB1,REAL{i * 4}")) for i in range(100)]
    split = plan_requests(adjacent, 240)
    assert [[(b.start, b.size) for b in r.blocks] for r in split] == [[(0, 220)], [(220, 180)]]


def test_a_small_pdu_is_negotiated_and_read_in_the_planned_requests(face: S7Face) -> None:
    for i in range(100):
        face.set(f"DB1,REAL{i * 4}", i * 1.5)
    driver = S7Driver(connection(face.port, pdu_size=240), tags({f"a{i}": f"DB1,REAL{i * 4}" for i in range(100)}))
    samples = read_once(driver)
    assert driver.pdu_size == 240 and len(driver.plans["default"]) == 2 and driver.requests == 2
    assert {s.tag: s.value for s in samples} == {f"a{i}": i * 1.5 for i in range(100)}


def test_a_missing_data_block_marks_only_its_tags_bad(face: S7Face) -> None:
    driver = S7Driver(connection(face.port), tags({"ok": "DB1,REAL8", "gone": "DB99,INT0"}))

    async def read() -> PartialRead:
        await driver.connect()
        try:
            with pytest.raises(PartialRead) as caught:
                await driver.read_group("default")
            return caught.value
        finally:
            await driver.close()

    partial = asyncio.run(read())
    assert [(s.tag, s.value) for s in partial.samples] == [("ok", 21.5)]
    assert [names for names, _ in partial.failures] == [["gone"]]


def test_a_bad_address_is_refused_naming_the_field() -> None:
    with pytest.raises(ConfigError, match=re.escape("tags.x.s7_address: 'DB1,REAL' is not an S7 address")):
        parse_address("DB1,REAL", "tags.x.s7_address")
    with pytest.raises(ConfigError, match=re.escape("a BOOL needs its bit 0..7")):
        parse_address("M,X3.9")


def test_a_dropped_connection_is_recovered(face: S7Face) -> None:
    received: list[Sample] = []
    worker = s7_worker(connection(face.port, poll_groups=[{"name": "default", "interval": 0.1}]),
                       tags({"db_real": "DB1,REAL8"}), received.extend)  # fmt: skip

    async def scenario() -> None:
        task = asyncio.create_task(worker.run())
        await until(lambda: any(is_good(s.status) for s in received))
        face.stop()  # the PLC goes away: its connection drops
        await until(lambda: any(is_bad(s.status) for s in received))
        face.set("DB1,REAL8", 99.25)
        face.start()
        await until(lambda: any(s.value == 99.25 and is_good(s.status) for s in received), timeout=20)
        worker.stop()
        await asyncio.wait_for(task, 10)

    asyncio.run(scenario())
    assert worker.health()["connects"] >= 2  # the first connection and the one after the PLC came back


async def until(check: object, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.05)
