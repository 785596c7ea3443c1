-- Shift handover: the outgoing supervisor's notes and open items for a line, shown to
-- the incoming shift and kept. A note is never edited; an open item is closed by a
-- second record (who and when) on the same row, once.
CREATE TABLE shift_handover_notes (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    line_id     text        NOT NULL REFERENCES equipment (id),
    written_at  timestamptz NOT NULL DEFAULT now(),
    written_by  text        NOT NULL,
    shift_name  text,
    note        text        NOT NULL CHECK (length(note) BETWEEN 1 AND 4000),
    open_item   boolean     NOT NULL DEFAULT false,
    closed_at   timestamptz,
    closed_by   text,
    CHECK ((closed_at IS NULL) = (closed_by IS NULL)),
    CHECK (open_item OR closed_at IS NULL)
);
CREATE INDEX shift_handover_notes_line_time ON shift_handover_notes (line_id, written_at DESC);
