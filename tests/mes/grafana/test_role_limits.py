"""Grafana's reader cannot lift its own limits into anything useful: no temporary tables,
no writing functions, definer functions that search pg_temp last, a bounded number of
sessions, and a watchdog that cancels its queries once past the role's timeout."""

from __future__ import annotations

import threading
import time
import uuid

import psycopg
import pytest

from collectors.database.migrations import pin_pg_temp_last
from mes.grafana.role import CONNECTION_LIMIT, ensure_role
from mes.grafana.watchdog import cancel_overdue_queries
from tests.conftest import login_url
from tests.mes.grafana.conftest import GrafanaDatabase


def test_the_reader_cannot_create_temporary_tables_even_outside_read_only_mode(grafana_db: GrafanaDatabase) -> None:
    with psycopg.connect(grafana_db.reader_url, autocommit=True) as conn:
        conn.execute("SET default_transaction_read_only = off")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="temporary tables"):
            conn.execute("CREATE TEMPORARY TABLE shadow (id int)")


def test_no_function_the_reader_may_call_can_write(grafana_db: GrafanaDatabase) -> None:
    # PostgreSQL refuses writes inside STABLE/IMMUTABLE functions: with read-only mode off,
    # a VOLATILE definer function would be the reader's only way to change anything.
    with psycopg.connect(grafana_db.url, autocommit=True) as conn:
        callable_volatile = conn.execute(
            "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND p.prosecdef AND p.provolatile = 'v' "
            "AND has_function_privilege(%s, p.oid, 'EXECUTE')", (grafana_db.role,)).fetchall()  # fmt: skip
    assert callable_volatile == []


def test_every_definer_function_searches_pg_temp_last(db: psycopg.Connection) -> None:
    rows = db.execute(
        "SELECT p.oid::regprocedure::text, (SELECT c FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%%') "
        "FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE p.prosecdef AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
    ).fetchall()
    assert rows, "the migrations define SECURITY DEFINER functions"
    wrong = [(name, path) for name, path in rows if not (path or "").replace(" ", "").endswith(",pg_temp")]
    assert wrong == []


def test_a_temporary_table_cannot_shadow_a_table_inside_a_definer_function(db: psycopg.Connection) -> None:
    db.execute("CREATE FUNCTION count_lines() RETURNS bigint LANGUAGE sql STABLE SECURITY DEFINER "
               "SET search_path = pg_catalog, public AS 'SELECT count(*) FROM equipment'")  # fmt: skip
    real = db.execute("SELECT count(*) FROM public.equipment").fetchone()[0]
    db.execute("CREATE TEMPORARY TABLE equipment AS SELECT g FROM generate_series(1, 1000) g")
    assert db.execute("SELECT count_lines()").fetchone() == (1000,)  # the attack works on such a function
    db.execute("DISCARD PLANS")
    pin_pg_temp_last(db)  # what every migration run does
    assert db.execute("SELECT count_lines()").fetchone() == (real,)


def test_the_role_carries_its_limits(grafana_db: GrafanaDatabase) -> None:
    with psycopg.connect(grafana_db.url, autocommit=True) as conn:
        (settings,) = conn.execute(
            "SELECT setconfig FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole "
            "WHERE r.rolname = %s AND s.setdatabase = 0", (grafana_db.role,)).fetchone()  # fmt: skip
        limit = conn.execute("SELECT rolconnlimit FROM pg_roles WHERE rolname = %s", (grafana_db.role,)).fetchone()
    assert {"default_transaction_read_only=on", "statement_timeout=60s"} <= set(settings)
    assert limit == (CONNECTION_LIMIT,)


def test_the_watchdog_cancels_a_reader_query_that_switched_its_timeout_off(db_url: str) -> None:
    role = f"grafana_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(db_url, autocommit=True) as owner:
        ensure_role(owner, role, "test-password")
        owner.execute(f'ALTER ROLE "{role}" SET statement_timeout = \'1s\'')  # short, for the test
    outcome: list[str] = []

    def runaway() -> None:
        with psycopg.connect(login_url(db_url, role, "test-password"), autocommit=True) as reader:
            reader.execute("SET statement_timeout = 0")  # any role may do this
            try:
                reader.execute("SELECT pg_sleep(30)")
                outcome.append("finished")
            except psycopg.errors.QueryCanceled as exc:
                outcome.append(str(exc))

    thread = threading.Thread(target=runaway)
    started = time.monotonic()
    thread.start()
    cancelled: list[int] = []
    with psycopg.connect(db_url, autocommit=True) as owner:  # the application role, as `linebrain run`
        while not cancelled and time.monotonic() - started < 15:
            time.sleep(0.3)
            cancelled = cancel_overdue_queries(owner, grace_s=0).cancelled
    thread.join(30)
    assert cancelled and outcome and "cancel" in outcome[0], outcome
    assert time.monotonic() - started < 15
