-- The storage settings of the config on plain PostgreSQL: monthly partitions do not
-- depend on the sample rate and there is no compression, so only the retention applies.
-- The TimescaleDB variant sets chunk interval, compression and retention policies.
CREATE FUNCTION configure_sample_storage(retention_days integer, compress_after_days integer,
                                         samples_per_second double precision)
RETURNS integer LANGUAGE sql AS $$ SELECT apply_sample_retention(retention_days) $$;
