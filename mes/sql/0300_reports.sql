-- Reports (issue 19): generated shift, day, week and month reports, kept as files; the
-- sign-off of a period; and which scheduled report was made and mailed (one row per
-- period, format and language: a restarted `linebrain run` never makes one twice).
CREATE TABLE stored_reports (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    period_key   text        NOT NULL,              -- kind:line:label, e.g. shift:line1:2026-03-04 early
    kind         text        NOT NULL CHECK (kind IN ('shift', 'day', 'week', 'month')),
    line_id      text        NOT NULL REFERENCES equipment (id),
    period_start timestamptz NOT NULL,
    period_end   timestamptz NOT NULL CHECK (period_end > period_start),
    label        text        NOT NULL,
    format       text        NOT NULL CHECK (format IN ('pdf', 'xlsx')),
    language     text        NOT NULL,
    content      bytea       NOT NULL,
    scheduled    boolean     NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL DEFAULT now(),
    created_by   text        NOT NULL,
    mailed_at    timestamptz,
    mailed_to    text[]      NOT NULL DEFAULT '{}',
    mail_error   text
);
-- The schedule's exactly-once key: one scheduled report per period, format and language.
CREATE UNIQUE INDEX stored_reports_scheduled_once ON stored_reports (period_key, format, language) WHERE scheduled;
CREATE INDEX stored_reports_line_time ON stored_reports (line_id, period_start DESC);

CREATE TABLE report_sign_offs (
    period_key  text        PRIMARY KEY,
    line_id     text        NOT NULL REFERENCES equipment (id),
    signed_by   text        NOT NULL,
    signed_at   timestamptz NOT NULL DEFAULT now(),
    note        text        NOT NULL DEFAULT '' CHECK (length(note) <= 2000)
);
