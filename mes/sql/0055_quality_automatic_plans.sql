-- An automatic plan takes its due inspections from the spec's bound tag at the due
-- time (the last sample_size good samples) instead of waiting for an inspector.
ALTER TABLE inspection_plans ADD COLUMN automatic boolean NOT NULL DEFAULT false;
