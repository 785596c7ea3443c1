-- The device's own source timestamp, kept when a sample was re-stamped.
--
-- A sample is never older than the tag's last stored sample (docs/database.md,
-- "Time of a sample"): when a server hands back a value with a source timestamp
-- older than that — typically an unchanged value after a network cut, still
-- carrying its timestamp from before the cut — the store files it at the time
-- the collector received it (in `time`) and keeps the device's timestamp here.
-- NULL for every sample whose `time` is its source time. Nullable without a
-- default: no rewrite of existing rows or chunks.
ALTER TABLE samples ADD COLUMN source_time timestamptz;
