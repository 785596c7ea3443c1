-- Grafana's reader may not create temporary tables (docs/security.md): they are
-- the one thing a role without CREATE anywhere could still create, and a temporary
-- table can shadow a table name inside functions. PostgreSQL grants TEMPORARY on
-- every database to PUBLIC; it is revoked here. The database owner (the role
-- LineBrain connects as) keeps it, as owners hold every privilege; a migration
-- run by a role that is neither owner nor superuser only gets a warning.
DO $$
BEGIN
    EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
END
$$;
