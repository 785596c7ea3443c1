-- Andon calls: a line asks for help (material, maintenance, quality, process, or a custom kind), from the
-- line page or a PLC button; acknowledged by the one who comes and resolved when the line has what it needs.

CREATE TABLE andon_calls (
    id               bigserial   PRIMARY KEY,
    line_id          text        NOT NULL,
    kind             text        NOT NULL CHECK (kind IN ('material', 'maintenance', 'quality', 'process', 'custom')),
    label            text        NOT NULL DEFAULT '',    -- the custom kind's name, or detail
    note             text        NOT NULL DEFAULT '',
    source           text        NOT NULL CHECK (source IN ('page', 'plc')),
    role             text        NOT NULL,
    raised_at        timestamptz NOT NULL,
    raised_by        text        NOT NULL,
    notified         boolean     NOT NULL DEFAULT false,
    acknowledged_at  timestamptz,
    acknowledged_by  text,
    resolved_at      timestamptz,
    resolved_by      text,
    resolution       text,
    CHECK (acknowledged_at IS NULL OR acknowledged_at >= raised_at),
    CHECK (resolved_at IS NULL OR (resolved_at >= raised_at AND resolution <> ''))
);
CREATE UNIQUE INDEX andon_calls_one_open ON andon_calls (line_id, kind, label) WHERE resolved_at IS NULL;
CREATE INDEX andon_calls_raised ON andon_calls (raised_at);
