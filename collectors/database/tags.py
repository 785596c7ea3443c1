"""The tag registry: configured tags mirrored into the ``tags`` table."""

from __future__ import annotations

import psycopg

from collectors.config.models import Plant, Tag


def _address(tag: Tag) -> str:
    if tag.node_id or tag.browse_path:
        return tag.node_id or tag.browse_path or ""
    if tag.table is not None and tag.address is not None:
        return f"{tag.unit_id if tag.unit_id is not None else 1}:{tag.table.value}:{tag.address}"
    return ""


UPSERT_TAG = """
INSERT INTO tags (name, connection, data_type, unit, description, eng_low, eng_high, address, active)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, true)
ON CONFLICT (name) DO UPDATE SET
    connection = EXCLUDED.connection, data_type = EXCLUDED.data_type, unit = EXCLUDED.unit,
    description = EXCLUDED.description, eng_low = EXCLUDED.eng_low, eng_high = EXCLUDED.eng_high,
    address = EXCLUDED.address, active = true, updated_at = now()
"""


def sync_tags(conn: psycopg.Connection, plant: Plant) -> dict[str, int]:
    """Upsert the plant's tags; tags no longer configured are marked inactive, never
    deleted (their samples stay readable). Returns name -> id."""
    with conn.transaction():
        with conn.cursor() as cur:
            cur.executemany(
                UPSERT_TAG,
                [
                    (
                        tag.name, tag.connection, tag.data_type.value, tag.unit, tag.description,
                        tag.range[0] if tag.range else None, tag.range[1] if tag.range else None,
                        _address(tag),
                    )
                    for tag in plant.tags
                ],
            )  # fmt: skip
        conn.execute(
            "UPDATE tags SET active = false, updated_at = now() WHERE active AND NOT (name = ANY(%s))",
            ([tag.name for tag in plant.tags],),
        )
    return tag_ids(conn)


def tag_ids(conn: psycopg.Connection) -> dict[str, int]:
    return {name: tag_id for tag_id, name in conn.execute("SELECT id, name FROM tags")}
