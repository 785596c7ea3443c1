-- Lots and genealogy. A lot is produced by an order (with its quantity and the
-- time window it was made in) or received as material from a supplier. Links say
-- which lot went into which: consumed (material into product), split (one lot
-- into several) and merge (several into one). Traces are recursive SQL over
-- lot_links (mes/quality/genealogy.py).
CREATE TABLE lots (
    id             bigserial        PRIMARY KEY,
    code           text             NOT NULL UNIQUE,
    kind           text             NOT NULL DEFAULT 'produced' CHECK (kind IN ('produced', 'material')),
    product        text             NOT NULL DEFAULT '',   -- product id or material name
    work_order_id  bigint           REFERENCES work_orders (id),  -- the order that produced it
    line_id        text             REFERENCES equipment (id),
    quantity       double precision NOT NULL DEFAULT 0 CHECK (quantity >= 0),
    unit           text             NOT NULL DEFAULT 'pcs',
    supplier       text,
    supplier_lot   text,
    started_at     timestamptz,
    ended_at       timestamptz,
    status         text             NOT NULL DEFAULT 'active'
                   CHECK (status IN ('active', 'consumed', 'split', 'merged', 'on_hold', 'scrapped')),
    created_at     timestamptz      NOT NULL DEFAULT now(),
    created_by     text             NOT NULL DEFAULT '',
    CHECK (ended_at IS NULL OR started_at IS NULL OR started_at <= ended_at)
);
CREATE INDEX lots_work_order ON lots (work_order_id);
CREATE INDEX lots_supplier_lot ON lots (supplier_lot) WHERE supplier_lot IS NOT NULL;

CREATE TABLE lot_links (
    id             bigserial        PRIMARY KEY,
    parent_lot_id  bigint           NOT NULL REFERENCES lots (id),   -- what went in
    child_lot_id   bigint           NOT NULL REFERENCES lots (id),   -- what came out
    relation       text             NOT NULL CHECK (relation IN ('consumed', 'split', 'merge')),
    quantity       double precision CHECK (quantity IS NULL OR quantity >= 0),
    work_order_id  bigint           REFERENCES work_orders (id),
    time           timestamptz      NOT NULL DEFAULT now(),
    recorded_by    text             NOT NULL DEFAULT '',
    CHECK (parent_lot_id <> child_lot_id),
    UNIQUE (parent_lot_id, child_lot_id, relation)
);
CREATE INDEX lot_links_child ON lot_links (child_lot_id);
