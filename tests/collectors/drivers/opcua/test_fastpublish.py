"""The lean Publish decoder reads exactly what asyncua's reference decoder reads."""

from __future__ import annotations

import asyncio

from asyncua import Client, ua
from asyncua.common.utils import Buffer
from asyncua.ua.ua_binary import struct_from_binary

from collectors.drivers.opcua.fastpublish import FastDataChange, _decode, decode_publish_response
from simulator.options import SimulatorOptions
from simulator.simulator import Simulator


class _Quiet:
    def datachange_notification(self, node, val, data) -> None:
        pass


async def test_fast_decoding_matches_asyncua_on_real_publish_responses():
    async with Simulator(SimulatorOptions(modbus_port=None, speed=120)) as sim:
        client = Client(sim.opcua_endpoint)
        await client.connect()
        session = client.uaclient.session
        raws: list[bytes] = []
        send = session._send_request

        async def recording(request, timeout=None):
            data = await send(request, timeout=timeout)
            if isinstance(request, ua.PublishRequest):
                raws.append(bytes(data))
            return data

        session._send_request = recording
        try:
            subscription = await client.create_subscription(50, _Quiet())
            nodes = [client.get_node(sim.opcua.node_id(p.name)) for p in sim.points if p.opcua]
            await subscription.subscribe_data_change(nodes, sampling_interval=20)
            await asyncio.sleep(0.5)
            sim.power("capper", False)  # Bad statuses with null values
            await asyncio.sleep(0.5)
        finally:
            await client.disconnect()
    changes = 0
    kinds: set[type] = set()
    for raw in raws:
        reference = struct_from_binary(ua.PublishResponse, Buffer(raw))
        fast = _decode(raw)  # no fallback: the fast path itself must read these
        assert fast.Parameters.SubscriptionId == reference.Parameters.SubscriptionId
        ours_message, their_message = fast.Parameters.NotificationMessage, reference.Parameters.NotificationMessage
        assert ours_message.SequenceNumber == their_message.SequenceNumber
        pairs = zip(fast.Parameters.NotificationMessage.NotificationData,
                    reference.Parameters.NotificationMessage.NotificationData, strict=True)
        for ours, theirs in pairs:
            if not isinstance(theirs, ua.DataChangeNotification):
                assert not isinstance(ours, FastDataChange)
                continue
            expected = [(item.ClientHandle, item.Value.Value.Value, item.Value.StatusCode.value,
                         item.Value.SourceTimestamp, item.Value.ServerTimestamp) for item in theirs.MonitoredItems]
            assert ours.changes == expected
            changes += len(expected)
            kinds.update(type(change[1]) for change in expected)
    assert changes > 50
    assert {bool, int, float, str, type(None)} <= kinds


def test_a_response_the_fast_path_cannot_read_falls_back_to_asyncua():
    message = ua.NotificationMessage(SequenceNumber=7, NotificationData=[ua.DataChangeNotification(
        MonitoredItems=[ua.MonitoredItemNotification(ClientHandle=3, Value=ua.DataValue(
            ua.Variant([1.0, 2.0], ua.VariantType.Double), SourcePicoseconds=5))])])
    response = ua.PublishResponse(Parameters=ua.PublishResult(SubscriptionId=1, NotificationMessage=message))
    from asyncua.ua.ua_binary import struct_to_binary

    decoded = decode_publish_response(Buffer(struct_to_binary(response)))
    (notification,) = decoded.Parameters.NotificationMessage.NotificationData
    assert isinstance(notification, ua.DataChangeNotification)  # asyncua's own objects: picoseconds present
    assert notification.MonitoredItems[0].Value.Value.Value == [1.0, 2.0]
