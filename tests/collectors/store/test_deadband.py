"""Report by exception: deadbands, heartbeat, quality changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from collectors.config.models import Tag
from collectors.deadband import ReportByException
from collectors.samples import BAD_TIMEOUT, Sample

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _tag(**fields: object) -> Tag:
    return Tag.model_validate({"name": "temp", "connection": "plc", **fields})


def _readings(values: list[float | None], status: list[int] | None = None, step_s: float = 1.0) -> list[Sample]:
    status = status or [0] * len(values)
    pairs = enumerate(zip(values, status, strict=True))
    return [Sample("temp", T0 + timedelta(seconds=i * step_s), v, s) for i, (v, s) in pairs]


def _kept(tag: Tag, samples: list[Sample]) -> list[float | None]:
    return [s.value for s in ReportByException([tag]).filter(samples)]


def test_absolute_deadband_compares_with_the_last_stored_value_so_drift_is_not_lost() -> None:
    tag = _tag(deadband=0.5, heartbeat=3600)
    assert _kept(tag, _readings([10.0, 10.2, 10.4, 10.6, 10.7, 9.9])) == [10.0, 10.6, 9.9]


def test_percent_deadband_is_a_share_of_the_engineering_range() -> None:
    tag = _tag(deadband_percent=1, range=(0, 200), heartbeat=3600)  # 1% of 200 = 2.0
    assert _kept(tag, _readings([100.0, 101.9, 102.1, 100.0, 99.0])) == [100.0, 102.1, 100.0]


def test_percent_deadband_without_range_uses_the_last_value() -> None:
    tag = _tag(deadband_percent=10, heartbeat=3600)
    assert _kept(tag, _readings([50.0, 54.0, 56.0, 60.0, 62.0])) == [50.0, 56.0, 62.0]


def test_zero_deadband_stores_every_change_and_skips_repeats() -> None:
    tag = _tag(heartbeat=3600)
    assert _kept(tag, _readings([1.0, 1.0, 2.0, 2.0, 1.0])) == [1.0, 2.0, 1.0]


def test_heartbeat_stores_an_unchanged_value_every_n_seconds_of_source_time() -> None:
    tag = _tag(deadband=100, heartbeat=5)
    kept = ReportByException([tag]).filter(_readings([7.0] * 12))
    assert [s.time - T0 for s in kept] == [timedelta(seconds=s) for s in (0, 5, 10)]


def test_heartbeat_zero_stores_every_reading() -> None:
    assert _kept(_tag(deadband=100, heartbeat=0), _readings([7.0] * 4)) == [7.0] * 4


def test_a_quality_change_always_passes_even_inside_the_deadband() -> None:
    tag = _tag(deadband=10, heartbeat=3600)
    samples = _readings([5.0, 5.0, None, 5.0], status=[0, BAD_TIMEOUT, BAD_TIMEOUT, 0])
    assert [(s.value, s.status) for s in ReportByException([tag]).filter(samples)] == [
        (5.0, 0), (5.0, BAD_TIMEOUT), (None, BAD_TIMEOUT), (5.0, 0)
    ]  # fmt: skip


def test_tags_are_filtered_independently() -> None:
    a, b = _tag(heartbeat=3600), Tag.model_validate({"name": "other", "connection": "plc", "heartbeat": 3600})
    rbe = ReportByException([a, b])
    samples = [Sample("temp", T0, 1.0), Sample("other", T0, 1.0), Sample("temp", T0, 1.0), Sample("other", T0, 2.0)]
    assert [(s.tag, s.value) for s in rbe.filter(samples)] == [("temp", 1.0), ("other", 1.0), ("other", 2.0)]
    assert rbe.suppressed == 1


def test_nan_and_infinity_pass_once_then_count_as_unchanged() -> None:
    nan, inf = float("nan"), float("inf")
    kept = _kept(_tag(heartbeat=3600), _readings([1.0, nan, nan, 2.0, inf, inf, 3.0]))
    assert [str(v) for v in kept] == ["1.0", "nan", "2.0", "inf", "3.0"]
