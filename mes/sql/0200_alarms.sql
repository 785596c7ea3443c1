-- Alarm management (ISA-18.2 / IEC 62682): alarm points, their occurrences and every transition.
--
-- A point is one rule applied to one tag. Its mode (in service, shelved until a time,
-- suppressed by design, out of service) belongs to the point; an occurrence is one
-- activation, from raise to return-to-normal-and-acknowledged. A cleared alarm that comes
-- back is a new occurrence; at most one occurrence per point is open (ended_at IS NULL),
-- which is what keeps a restarted evaluator from raising the same alarm twice.

CREATE TABLE alarm_points (
    id             bigserial   PRIMARY KEY,
    rule           text        NOT NULL,
    tag            text        NOT NULL,
    kind           text        NOT NULL,
    priority       text        NOT NULL CHECK (priority IN ('low', 'medium', 'high', 'urgent')),
    area           text,
    line           text,
    role           text        NOT NULL,
    message        text        NOT NULL DEFAULT '',
    latched        boolean     NOT NULL DEFAULT false,
    ack_within_s   double precision,
    mode           text        NOT NULL DEFAULT 'in_service'
                   CHECK (mode IN ('in_service', 'shelved', 'suppressed', 'out_of_service')),
    shelved_until  timestamptz,
    mode_since     timestamptz,
    mode_by        text,
    mode_comment   text,
    UNIQUE (rule, tag),
    CHECK ((mode = 'shelved') = (shelved_until IS NOT NULL))
);

CREATE TABLE alarm_occurrences (
    id                  bigserial   PRIMARY KEY,
    point_id            bigint      NOT NULL REFERENCES alarm_points (id),
    state               text        NOT NULL CHECK (state IN ('unacknowledged', 'acknowledged',
                                    'returned_unacknowledged', 'latched', 'normal', 'shelved',
                                    'suppressed', 'out_of_service')),
    active              boolean     NOT NULL,
    acknowledged        boolean     NOT NULL DEFAULT false,
    priority            text        NOT NULL,
    raised_at           timestamptz NOT NULL,
    annunciated_at      timestamptz,           -- when operators were shown it (NULL: only ever shelved/suppressed)
    acknowledged_at     timestamptz,
    acknowledged_by     text,
    cleared_at          timestamptz,
    ended_at            timestamptz,           -- back to normal: the occurrence is over
    value               double precision,
    threshold           double precision,
    notified_level      integer,               -- highest dispatch level told (NULL: nobody yet)
    next_escalation_at  timestamptz,
    closed_at           timestamptz,           -- closure: cause and action recorded by a person
    closed_by           text,
    cause               text,
    action              text,
    CHECK (closed_at IS NULL OR (cause <> '' AND action <> ''))
);
CREATE UNIQUE INDEX alarm_occurrences_one_open ON alarm_occurrences (point_id) WHERE ended_at IS NULL;
CREATE INDEX alarm_occurrences_raised ON alarm_occurrences (raised_at);
CREATE INDEX alarm_occurrences_escalation ON alarm_occurrences (next_escalation_at)
    WHERE next_escalation_at IS NOT NULL;

CREATE TABLE alarm_events (
    id             bigserial   PRIMARY KEY,
    point_id       bigint      NOT NULL REFERENCES alarm_points (id),
    occurrence_id  bigint      REFERENCES alarm_occurrences (id),
    at             timestamptz NOT NULL,
    transition     text        NOT NULL,
    from_state     text,
    to_state       text,
    by_user        text        NOT NULL,
    comment        text        NOT NULL DEFAULT '',
    value          double precision
);
CREATE INDEX alarm_events_point ON alarm_events (point_id, at);
CREATE INDEX alarm_events_occurrence ON alarm_events (occurrence_id);

CREATE FUNCTION alarm_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'alarm_events is append-only';
END $$;
CREATE TRIGGER alarm_events_append_only BEFORE UPDATE OR DELETE ON alarm_events
    FOR EACH ROW EXECUTE FUNCTION alarm_events_append_only();

-- Notices to people (webhook, WeCom, DingTalk, e-mail): queued, sent, retried, visible.
CREATE TABLE alarm_notifications (
    id             bigserial   PRIMARY KEY,
    occurrence_id  bigint      REFERENCES alarm_occurrences (id),
    andon_call_id  bigint,
    channel        text        NOT NULL,
    level          integer     NOT NULL DEFAULT 0,
    role           text        NOT NULL,
    recipients     text        NOT NULL DEFAULT '',
    payload        jsonb       NOT NULL,
    status         text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts       integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    last_error     text,
    created_at     timestamptz NOT NULL,
    sent_at        timestamptz
);
CREATE INDEX alarm_notifications_due ON alarm_notifications (next_attempt_at) WHERE status = 'pending';
