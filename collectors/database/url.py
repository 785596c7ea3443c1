"""Which database to use: an explicit URL, ``$LINEBRAIN_DATABASE_URL``, or the embedded server."""

from __future__ import annotations

import os
from pathlib import Path

from collectors.database.embedded import EmbeddedPostgres


def resolve_database_url(explicit: str | None = None, data_dir: Path | None = None) -> str:
    """The URL to connect to, starting the embedded server when no URL is given."""
    url = explicit or os.environ.get("LINEBRAIN_DATABASE_URL")
    if url:
        return url
    return EmbeddedPostgres(data_dir).start().url()
