"""Database access: the embedded server, migrations and the tag registry."""

from collectors.database.embedded import EmbeddedPostgres, default_data_dir
from collectors.database.migrations import COLLECTORS, MigrationSource, migrate

__all__ = ["COLLECTORS", "EmbeddedPostgres", "MigrationSource", "default_data_dir", "migrate"]
