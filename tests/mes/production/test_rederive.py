"""Re-derivation boundaries (issue 27): deriving once over everything gives the same facts as
deriving in pieces, with late samples inserted in random order and re-derived from random
boundaries (on a late sample, or before it)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mes.production import derive
from tests.mes.production.scenario import SampleWriter, local, plant

START = local("2026-03-03", "09:50")  # crosses the early shift's 10:00 break
DERIVED = ("downtime_assignments", "downtime_events", "state_intervals", "count_buckets", "derive_watermarks",
           "data_quality_events", "samples")  # fmt: skip
# Counter moves per 20 s step: a rise, a reset to a small value, a glitch read of 0, a jump.
MOVES = st.sampled_from(["rise", "rise", "rise", "rise", "reset", "glitch", "jump", "bad"])

Row = tuple[str, datetime, float | None]


def readings(moves: list[str], codes: list[int]) -> list[Row]:
    """Good counter and state samples, 20 s apart."""
    rows: list[Row] = []
    good = 40_000.0
    for i, move in enumerate(moves):
        at = START + timedelta(seconds=20 * i)
        if move == "rise":
            good += 30
        elif move == "reset":
            good = 5
        elif move == "jump":
            good += 30_000
        good %= 65_536
        value: float | None = {"glitch": 0.0, "bad": None}.get(move, good)
        rows.append(("good", at, value))
        rows.append(("state", at, float(codes[i % len(codes)])))
    return rows


def write(conn: psycopg.Connection, rows: list[Row]) -> None:
    writer = SampleWriter(conn)
    for tag, at, value in rows:
        if value is None:
            writer.bad(tag, at)
        else:
            writer.add(tag, at, value)
    writer.flush()


def facts(conn: psycopg.Connection) -> dict[str, list]:
    """What derivation produced, in a form that does not depend on how it was batched: counts
    per cut minute, data-quality events, state intervals with neighbours of one state merged."""
    counts = conn.execute(
        "SELECT date_bin('60 seconds', cut_end - interval '1 microsecond', 'epoch'), sum(good) FROM count_buckets "
        "GROUP BY 1 HAVING sum(good) <> 0 ORDER BY 1").fetchall()  # fmt: skip
    events = conn.execute("SELECT stream, at, kind, previous_value, value, quantity FROM data_quality_events "
                          "ORDER BY at, kind").fetchall()  # fmt: skip
    merged: list[list] = []
    for lo, hi, state, raw in conn.execute(
        "SELECT lower(period), upper(period), state, raw_code FROM state_intervals ORDER BY lower(period)"
    ):
        if merged and merged[-1][1] == lo and merged[-1][2:] == [state, raw]:
            merged[-1][1] = hi
        else:
            merged.append([lo, hi, state, raw])
    return {"counts": [(t, round(q, 6)) for t, q in counts], "events": events, "states": merged}


def reset(conn: psycopg.Connection) -> None:
    for table in DERIVED:
        conn.execute(f"DELETE FROM {table}")


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(moves=st.lists(MOVES, min_size=6, max_size=40), codes=st.lists(st.sampled_from([1, 2, 3]), min_size=1,
                                                                      max_size=4),
       seed=st.integers(min_value=0, max_value=2**32))  # fmt: skip
def test_pieces_with_late_samples_derive_what_one_pass_derives(db: psycopg.Connection, moves: list[str],
                                                              codes: list[int], seed: int) -> None:
    line = plant()
    rows = readings(moves, codes)
    end = rows[-1][1] + timedelta(minutes=5)
    reset(db)
    derive.run_once(db, line, now=START - timedelta(hours=1))
    write(db, rows)
    derive.run_once(db, line, now=end)
    once = facts(db)

    reset(db)
    rng = random.Random(seed)
    shuffled = rows[:]
    rng.shuffle(shuffled)
    cuts = sorted(rng.sample(range(1, len(shuffled)), k=min(3, len(shuffled) - 1)))
    written: list[Row] = []
    for piece in (shuffled[a:b] for a, b in zip([0, *cuts], [*cuts, len(shuffled)], strict=True)):
        write(db, piece)
        derived_to = max((t for _, t, _ in written), default=None)
        written += piece
        late = [t for _, t, _ in piece if derived_to is not None and t <= derived_to]
        horizon = max(t for _, t, _ in written)
        if late:
            since = min(late) - timedelta(seconds=rng.choice([0, 0, 7, 20, 61, 300]))
            derive.rederive(db, line, "line1", since, now=horizon)
        else:
            derive.run_once(db, line, now=horizon)
    derive.run_once(db, line, now=end)
    assert facts(db) == once


def test_re_deriving_from_a_late_sample_counts_the_units_before_it(db: psycopg.Connection) -> None:
    """Issue 27: the baseline comes from the reading before the window, not the late reading."""
    line = plant()
    derive.run_once(db, line, now=START - timedelta(hours=1))
    rows = [("good", START + timedelta(seconds=40 * i), 40_000.0 + 60 * i) for i in range(10)]
    write(db, rows[:5] + rows[6:])
    derive.run_once(db, line, now=rows[-1][1])
    write(db, [rows[5]])  # late, exactly at the boundary
    derive.rederive(db, line, "line1", rows[5][1], now=rows[-1][1])
    assert db.execute("SELECT sum(good) FROM count_buckets").fetchone()[0] == 60 * 9
    per_minute = dict(facts(db)["counts"])
    assert per_minute[START + timedelta(seconds=180)] == 60 * 2  # the readings at START + 3:20 and + 4:00
