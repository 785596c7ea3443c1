-- Setpoint write requests: the database is the channel from the MES (any process:
-- `linebrain serve`, the CLI, `run`'s own jobs) to the collector process that owns
-- the device connection (docs/recipes.md, docs/security.md). The MES inserts a
-- checked request and NOTIFYs `linebrain_setpoints`; the collector that has the
-- tag claims it (FOR UPDATE SKIP LOCKED, so exactly one does), writes, reads back,
-- and files the outcome here. A request nobody claimed before `expires_at` is
-- never written later: the claim requires expires_at > now().
CREATE TABLE setpoint_requests (
    id            bigserial   PRIMARY KEY,
    tag           text        NOT NULL,
    value         jsonb       NOT NULL,
    tolerance     double precision CHECK (tolerance IS NULL OR tolerance >= 0),
    requested_by  text        NOT NULL,
    requested_at  timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    state         text        NOT NULL DEFAULT 'pending'
                  CHECK (state IN ('pending', 'running', 'done', 'expired')),
    claimed_by    text,
    old_value     jsonb,
    readback      jsonb,
    result        text CHECK (result IS NULL OR result IN ('written', 'mismatch', 'refused', 'failed', 'expired')),
    message       text,
    finished_at   timestamptz
);

CREATE INDEX setpoint_requests_pending ON setpoint_requests (id) WHERE state = 'pending';
