"""Process checks are incremental: an excursion still open is completed by a later pass, a
stretch too short so far is looked at again, bad samples say nothing, and each excursion
opens one nonconformance, once, when it ends."""

from __future__ import annotations

import psycopg

from collectors.samples import BAD_COMMUNICATION_ERROR
from mes.quality.genealogy import LotIn, create_lot
from mes.quality.process_checks import find_excursions, list_excursions, run_process_checks
from mes.quality.specs import SpecIn, create_spec
from tests.mes.quality.helpers import at, count, make_line, make_order, write_samples


def test_an_open_excursion_is_completed_by_a_later_pass(db: psycopg.Connection) -> None:
    make_line(db)
    order = make_order(db, "WO-1", at(0), None)  # still running
    create_lot(db, LotIn(code="LOT-A", work_order_id=order, quantity=500, started_at=at(0)))
    create_spec(db, SpecIn(product_id="P1", characteristic="oven", tag="oven", process_high=190, min_duration_s=60))
    for minute in range(1, 31):
        count(db, "L1", at(minute), good=10)
    write_samples(db, "oven", [(at(m), 185.0) for m in range(10)] + [(at(10.5), 195.0)])
    first = run_process_checks(db, at(12))
    assert [(e["start_time"], e["end_time"], e["worst_value"]) for e in first] == [(at(10.5), None, 195.0)]
    assert "nonconformance_id" not in first[0]  # not over yet: nothing to disposition

    write_samples(db, "oven", [(at(13), 197.0), (at(15), 185.0)])
    second = run_process_checks(db, at(20))
    assert [(e["id"], e["end_time"], e["worst_value"]) for e in second] == [(first[0]["id"], at(15), 197.0)]
    nc = db.execute("SELECT work_order_id, lot_id, quantity, source FROM nonconformances").fetchall()
    lot_id = db.execute("SELECT id FROM lots WHERE code = 'LOT-A'").fetchone()[0]
    # buckets ending 11..15 (+ the one in progress at the end): the units made while it lasted
    assert nc == [(order, lot_id, 60.0, "excursion")]
    assert run_process_checks(db, at(25)) == []
    assert len(list_excursions(db, work_order_id=order)) == 1
    assert db.execute("SELECT count(*) FROM quality_events WHERE kind = 'excursion'").fetchone()[0] == 1


def test_a_short_stretch_is_looked_at_again_and_bad_samples_are_ignored(db: psycopg.Connection) -> None:
    make_line(db)
    order = make_order(db, "WO-2", at(0), None)
    create_spec(db, SpecIn(product_id="P1", characteristic="oven", tag="oven", process_high=190, min_duration_s=60))
    write_samples(db, "oven", [(at(m), 185.0) for m in range(5)])
    write_samples(db, "oven", [(at(5), 300.0)], status=BAD_COMMUNICATION_ERROR)  # a broken reading, not heat
    write_samples(db, "oven", [(at(6), 195.0)])
    assert run_process_checks(db, at(6.5)) == []  # 30 s outside so far: could still be noise
    write_samples(db, "oven", [(at(7.5), 186.0)])
    found = run_process_checks(db, at(8))
    assert [(e["work_order_id"], e["start_time"], e["end_time"], e["worst_value"]) for e in found] == [
        (order, at(6), at(7.5), 195.0)
    ]


def test_find_excursions_splits_high_and_low_and_drops_blips() -> None:
    series = [(at(0), 5.0, 0), (at(1), 11.0, 0), (at(3), -1.0, 0), (at(3.5), 5.0, 0), (at(4), 12.0, 0),
              (at(4.2), 5.0, 0)]  # fmt: skip
    found, pending = find_excursions(series, 0.0, 10.0, 60.0, at(5))
    assert [(e.direction, e.start, e.end, e.worst) for e in found] == [("high", at(1), at(3), 11.0)]
    assert pending is None  # the low stretch (30 s) and the last high one (12 s) were blips


async def test_the_background_job_runs_the_checks_until_stopped(db: psycopg.Connection, db_url: str) -> None:
    """``linebrain run`` starts ``mes.quality.jobs.jobs(...)`` next to the collectors."""
    import asyncio

    from mes.cli.collect import MES_JOB_MODULES
    from mes.quality.jobs import quality_job

    assert "mes.quality.jobs" in MES_JOB_MODULES
    make_line(db)
    make_order(db, "WO-3", at(0), at(30))
    create_spec(db, SpecIn(product_id="P1", characteristic="oven", tag="oven", process_high=190, min_duration_s=60))
    write_samples(db, "oven", [(at(0), 185.0), (at(10), 195.0), (at(15), 185.0)])
    stop = asyncio.Event()
    task = asyncio.create_task(quality_job(db_url, every_s=0.05)(stop))
    for _ in range(200):
        if db.execute("SELECT count(*) FROM process_excursions").fetchone()[0]:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, 10)
    assert db.execute("SELECT start_time, end_time FROM process_excursions").fetchall() == [(at(10), at(15))]
