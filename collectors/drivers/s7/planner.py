"""S7 read planning: tags → blocks of nearby bytes → multi-variable requests that fit the PDU.

Tags of one area (and data block) whose bytes are at most ``max_gap`` apart are
read as one block. Blocks are packed into requests (S7 "read var" with several
items) under three limits of the protocol: at most 20 items, the request
(12 bytes of header and function + 12 per item) and the answer (14 bytes + per
item 4 bytes of header and its data, padded to an even length) within the
negotiated PDU size. A block whose answer alone would not fit is split.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from snap7.type import Area

from collectors.config.models import Tag
from collectors.drivers.s7.address import S7Address, parse_address

MAX_ITEMS = 20
_REQUEST_HEAD, _REQUEST_ITEM = 12, 12
_ANSWER_HEAD, _ANSWER_ITEM = 14, 4


@dataclass
class Block:
    """Bytes ``start``..``start + size`` of one area, and the tags read from them."""

    area: Area
    db: int
    start: int
    size: int
    tags: list[tuple[str, S7Address]] = field(default_factory=list)

    def item(self) -> dict[str, int]:
        return {"area": self.area, "db_number": self.db, "start": self.start, "size": self.size}

    def __str__(self) -> str:
        where = f"DB{self.db}" if self.area is Area.DB else self.area.name
        return f"{where} bytes {self.start}..{self.start + self.size - 1} ({len(self.tags)} tags)"


@dataclass
class S7Request:
    blocks: list[Block]

    def answer_bytes(self) -> int:
        return _ANSWER_HEAD + sum(_ANSWER_ITEM + block.size + block.size % 2 for block in self.blocks)

    def request_bytes(self) -> int:
        return _REQUEST_HEAD + _REQUEST_ITEM * len(self.blocks)


def addresses(tags: list[Tag]) -> list[tuple[str, S7Address]]:
    """(tag name, parsed address) of each tag; a bad address raises ConfigError naming the tag."""
    return [(tag.name, parse_address(tag.s7_address or "", f"tags.{tag.name}.s7_address")) for tag in tags]


def plan_requests(tags: list[tuple[str, S7Address]], pdu_size: int, max_gap: int = 16) -> list[S7Request]:
    """The requests that read every tag once, in as few round trips as the limits allow."""
    most = pdu_size - _ANSWER_HEAD - _ANSWER_ITEM - 1  # the largest block one answer can carry
    blocks: list[Block] = []
    for name, address in sorted(tags, key=lambda t: (int(t[1].area), t[1].db, t[1].offset)):
        last = blocks[-1] if blocks else None
        end = address.offset + address.size
        if (last is not None and last.area == address.area and last.db == address.db
                and address.offset <= last.start + last.size + max_gap and end - last.start <= most):  # fmt: skip
            last.size = max(last.size, end - last.start)
            last.tags.append((name, address))
            continue
        if address.size > most:
            raise ValueError(f"tag {name}: {address.size} bytes do not fit an answer of a {pdu_size}-byte PDU")
        blocks.append(Block(address.area, address.db, address.offset, address.size, [(name, address)]))
    requests: list[S7Request] = []
    for block in blocks:
        current = requests[-1] if requests else None
        if current is not None and len(current.blocks) < MAX_ITEMS:
            trial = S7Request([*current.blocks, block])
            if trial.answer_bytes() <= pdu_size and trial.request_bytes() <= pdu_size:
                current.blocks.append(block)
                continue
        requests.append(S7Request([block]))
    return requests
