-- Tag registry: one row per configured tag; samples refer to it by id.
CREATE TABLE tags (
    id           serial PRIMARY KEY,
    name         text        NOT NULL UNIQUE,
    connection   text        NOT NULL,
    data_type    text        NOT NULL,
    unit         text        NOT NULL DEFAULT '',
    description  text        NOT NULL DEFAULT '',
    eng_low      double precision,
    eng_high     double precision,
    address      text        NOT NULL DEFAULT '',
    active       boolean     NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- Batches committed by the store: the exactly-once ledger. A batch's rows and
-- its row here are written in one transaction, so a replayed batch is skipped.
CREATE TABLE store_batches (
    batch_id     uuid        PRIMARY KEY,
    source       text        NOT NULL DEFAULT '',
    rows         integer     NOT NULL,
    first_time   timestamptz,
    last_time    timestamptz,
    committed_at timestamptz NOT NULL DEFAULT now()
);
