-- derive_pending stays small where no `linebrain run` consumes it (a collectors-only
-- host): one row per writing backend, widened by every batch it commits, instead of a
-- row per batch. Keyed by the backend so concurrent writers never wait on each other.
ALTER TABLE derive_pending ADD COLUMN backend integer;
CREATE UNIQUE INDEX derive_pending_backend ON derive_pending (backend);

CREATE OR REPLACE FUNCTION store_batches_to_derive_pending() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO derive_pending (backend, first_time, last_time)
    VALUES (pg_backend_pid(), NEW.first_time, NEW.last_time)
    ON CONFLICT (backend) DO UPDATE SET first_time = least(derive_pending.first_time, EXCLUDED.first_time),
                                        last_time = greatest(derive_pending.last_time, EXCLUDED.last_time),
                                        committed_at = now();
    RETURN NULL;
END $$;
