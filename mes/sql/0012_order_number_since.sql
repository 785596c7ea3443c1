-- Orders from the PLC (issue 13): the time the order-number tag started showing its
-- current number, so an order created or released later is started at that time.
ALTER TABLE derive_watermarks ADD COLUMN value_since timestamptz;
