"""Shift handover: what the outgoing supervisor tells the incoming shift.

A note belongs to a line and the shift it was written in; an *open item* stays on
the line's list, shift after shift, until someone closes it (who and when are kept).
Notes are never edited or deleted.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg

from mes.db import first, rows
from mes.errors import Conflict, InvalidInput, NotFound
from mes.production import shifts
from mes.production.equipment import get_unit

MAX_NOTE = 4000
COLUMNS = "id, line_id, written_at, written_by, shift_name, note, open_item, closed_at, closed_by"


def add_note(conn: psycopg.Connection, line_id: str, note: str, by: str, open_item: bool = False,
             at: datetime | None = None) -> dict:
    """Record a handover note (an open item when ``open_item``) in the shift running at ``at``."""
    text = note.strip()
    if not text:
        raise InvalidInput("write the note first", field="note")
    if len(text) > MAX_NOTE:
        raise InvalidInput(f"a note holds at most {MAX_NOTE} characters", field="note")
    get_unit(conn, line_id)
    shift = shifts.shift_at(conn, line_id, at) if at else None
    row = first(
        conn,
        f"INSERT INTO shift_handover_notes (line_id, written_at, written_by, shift_name, note, open_item) "
        f"VALUES (%s, coalesce(%s, now()), %s, %s, %s, %s) RETURNING {COLUMNS}",
        (line_id, at, by, shift["name"] if shift else None, text, open_item),
    )
    assert row is not None
    return row


def close_item(conn: psycopg.Connection, note_id: int, by: str, at: datetime | None = None) -> dict:
    """Close an open item, once."""
    row = first(
        conn,
        f"UPDATE shift_handover_notes SET closed_at = coalesce(%s, now()), closed_by = %s "
        f"WHERE id = %s AND open_item AND closed_at IS NULL RETURNING {COLUMNS}",
        (at, by, note_id),
    )
    if row is None:
        if first(conn, "SELECT 1 FROM shift_handover_notes WHERE id = %s", (note_id,)) is None:
            raise NotFound(f"no handover note {note_id}", field="note_id")
        raise Conflict(f"note {note_id} is not an open item", field="note_id")
    return row


def handover(conn: psycopg.Connection, line_id: str, now: datetime, days: float = 2) -> dict:
    """What the incoming shift reads: every open item, and the notes of the last ``days``."""
    get_unit(conn, line_id)
    return {
        "open_items": rows(
            conn,
            f"SELECT {COLUMNS} FROM shift_handover_notes WHERE line_id = %s AND open_item AND closed_at IS NULL "
            "ORDER BY written_at",
            (line_id,),
        ),
        "notes": rows(
            conn,
            f"SELECT {COLUMNS} FROM shift_handover_notes WHERE line_id = %s AND written_at > %s "
            "ORDER BY written_at DESC LIMIT 100",
            (line_id, now - timedelta(days=days)),
        ),
    }
