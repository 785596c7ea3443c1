-- When the collector received a sample, stored as a delay after its source time.
--
-- `received_time` (0002) is a second timestamp per sample. Its 20–80 ms of network and
-- polling jitter is all noise to TimescaleDB's delta-of-delta coding of microseconds: 2.8 B
-- of a compressed sample's 6.2 B (docs/performance.md). The same fact as a small integer of
-- milliseconds after `time` compresses to about 1 B, so the store writes that instead:
--
--   received time = coalesce(received_time, time + receive_delay_ms * interval '1 millisecond')
--
-- - New rows carry the delay, rounded to the millisecond (the receive clock is read after a
--   network round trip and an event-loop hop: its sub-millisecond digits are noise), negative
--   when the source clock is ahead; `received_time` stays NULL.
-- - A delay outside the integer range (about ±24.8 days: a store-and-forward buffer replayed
--   weeks late) keeps its exact `received_time` and no delay: nothing is lost, nothing made up.
-- - Rows written before this migration keep their `received_time` and no delay: history is not
--   rewritten (nullable, no default: no table or chunk rewrite, allowed on compressed
--   hypertables since TimescaleDB 2.1).
ALTER TABLE samples ADD COLUMN receive_delay_ms integer;
COMMENT ON COLUMN samples.receive_delay_ms IS
    'when the collector received the sample, in ms after time (received_time when it does not fit)';
