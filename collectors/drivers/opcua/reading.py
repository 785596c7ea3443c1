"""Bulk Read of DataValues, split to the server's MaxNodesPerRead.

``read_values`` in asyncua drops status codes and timestamps, so we send Read
requests ourselves and keep whole DataValues. A request is cut into chunks of
at most ``limit`` nodes, and chunks run concurrently up to ``max_concurrent``.
When the server answers BadTooManyOperations or a message-size error, the chunk
is halved and retried, and the lower limit is kept for later reads: some
servers advertise a limit they cannot honour.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from asyncua import ua

from collectors.drivers.opcua.failures import is_too_large


class ChunkedReader:
    """Reads many nodes' values with as few requests as the server allows."""

    def __init__(self, session, limit: int, max_concurrent: int) -> None:
        self._session = session
        self.limit = max(1, limit)
        self._gate = asyncio.Semaphore(max(1, max_concurrent))
        self.requests = 0
        self.halvings = 0

    async def read(self, node_ids: Sequence[ua.NodeId]) -> list[ua.DataValue]:
        """DataValues in the order of ``node_ids`` (bad statuses included, never dropped)."""
        if not node_ids:
            return []
        chunks = [node_ids[i:i + self.limit] for i in range(0, len(node_ids), self.limit)]
        if len(chunks) == 1:
            return await self._read_chunk(chunks[0])
        parts = await asyncio.gather(*(self._read_chunk(chunk) for chunk in chunks))
        return [value for part in parts for value in part]

    async def _read_chunk(self, node_ids: Sequence[ua.NodeId]) -> list[ua.DataValue]:
        try:
            async with self._gate:
                self.requests += 1
                return await self._session.read(read_parameters(node_ids))
        except ua.UaStatusCodeError as exc:
            if not is_too_large(exc) or len(node_ids) == 1:
                raise
        half = (len(node_ids) + 1) // 2
        self.halvings += 1
        self.limit = min(self.limit, half)
        first, second = await asyncio.gather(self._read_chunk(node_ids[:half]), self._read_chunk(node_ids[half:]))
        return first + second


def read_parameters(node_ids: Sequence[ua.NodeId]) -> ua.ReadParameters:
    """A Read of the nodes' values with both timestamps, never from a cache (MaxAge 0)."""
    params = ua.ReadParameters()
    params.MaxAge = 0
    params.TimestampsToReturn = ua.TimestampsToReturn.Both
    params.NodesToRead = [ua.ReadValueId(NodeId=node_id, AttributeId=ua.AttributeIds.Value) for node_id in node_ids]
    return params
