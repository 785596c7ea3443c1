"""The simulator's OPC UA server key is private (0600), even in a folder others may enter."""

from __future__ import annotations

import stat
from pathlib import Path

from simulator import Simulator, SimulatorOptions
from tests.other_user import OtherUser
from tests.simulator.helpers import MONDAY_0700_UTC


async def test_the_server_key_is_readable_by_its_owner_only(pg_data_dir: Path, another_user: OtherUser) -> None:
    folder = pg_data_dir / "server"
    options = SimulatorOptions(speed=0, start=MONDAY_0700_UTC, security=("Basic256Sha256_SignAndEncrypt",),
                               users={"operator": "s3cret"}, allow_anonymous=False, cert_dir=folder)  # fmt: skip
    async with Simulator(options):
        key = folder / "server_key.pem"
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        assert another_user.attempt(("read", key)) == ["denied"]
