-- Late samples re-derive their window (issue 13): every committed store batch leaves
-- its time range here, in the batch's own transaction; `linebrain run` (the MES job)
-- consumes the rows, re-derives the units whose facts already reach past a batch's
-- first sample, and builds the shift calendar for the days the batch covers.
CREATE TABLE derive_pending (
    first_time   timestamptz NOT NULL,
    last_time    timestamptz NOT NULL,
    committed_at timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION store_batches_to_derive_pending() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO derive_pending (first_time, last_time) VALUES (NEW.first_time, NEW.last_time);
    RETURN NULL;
END $$;

CREATE TRIGGER store_batches_derive_pending AFTER INSERT ON store_batches
FOR EACH ROW WHEN (NEW.first_time IS NOT NULL AND NEW.rows > 0)
EXECUTE FUNCTION store_batches_to_derive_pending();
