"""The Sparkplug B codec: built from the published schema, exact both ways."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from collectors.errors import ConfigError
from collectors.mqtt.edge import _seq_field
from collectors.samples import BAD_NO_COMMUNICATION, GOOD, Sample
from collectors.sparkplug import payloads as spb


def test_a_sample_survives_the_payload_exactly() -> None:
    moment = datetime(2026, 12, 6, 23, 59, 59, 123_457, tzinfo=UTC)
    samples = [Sample("t0", moment, 0.1 + 0.2), Sample("code", moment, "B-17"),
               Sample("t1", moment, None, BAD_NO_COMMUNICATION), Sample("t2", moment, -1.5e-300, 0x40940000)]
    payload = spb.new_payload(seq=5)
    for sample in samples:
        spb.add_sample(payload, sample, spb.metric_alias(sample.tag))
    decoded = spb.decode(payload.SerializeToString())
    assert decoded.seq == 5
    back = [spb.metric_sample(metric, sample.tag) for metric, sample in zip(decoded.metrics, samples, strict=True)]
    assert [(s.time, s.value, s.status) for s in back] == [(s.time, s.value, s.status) for s in samples]
    assert decoded.metrics[0].datatype == spb.DOUBLE and decoded.metrics[1].datatype == spb.STRING
    assert decoded.metrics[2].is_null


def test_signed_integers_from_other_edge_nodes_are_read_with_their_sign() -> None:
    payload = spb.new_payload()
    metric = payload.metrics.add()
    metric.datatype, metric.int_value, metric.timestamp = 2, 0xFFFE, 1_700_000_000_000  # Int16 -2
    assert spb.metric_sample(spb.decode(payload.SerializeToString()).metrics[0], "x").value == -2.0


def test_the_seq_field_appended_to_a_payload_sets_its_seq() -> None:
    body = spb.new_payload(timestamp_ms=1).SerializeToString()
    for seq in (0, 1, 127, 128, 255):
        assert spb.decode(body + _seq_field(seq)).seq == seq


def test_aliases_are_stable_31_bit_digests_and_a_collision_is_refused() -> None:
    aliases = spb.aliases_for(["filler_speed", "capper_speed"])
    assert aliases == spb.aliases_for(["capper_speed", "filler_speed"])
    assert all(0 <= alias < 2**31 for alias in aliases.values())
    names = {}
    for i in range(200_000):  # find two names sharing an alias (birthday bound: ~55k draws for 31 bits)
        alias = spb.metric_alias(f"tag{i}")
        if alias in names:
            with pytest.raises(ConfigError, match="same Sparkplug alias"):
                spb.aliases_for([names[alias], f"tag{i}"])
            return
        names[alias] = f"tag{i}"
    pytest.fail("no collision found")


def test_topics_parse_and_print_both_ways() -> None:
    topic = spb.parse_topic("spBv1.0/Plant_A/DDATA/collect-plc1/L1")
    assert topic == spb.Topic("Plant_A", "DDATA", "collect-plc1", "L1")
    assert str(topic) == "spBv1.0/Plant_A/DDATA/collect-plc1/L1"
    assert spb.parse_topic("spBv1.0/STATE/linebrain") is None
    assert spb.topic_id("Brewery #2 / line") == "Brewery_2_line"
    assert GOOD == 0
