-- Products, ideal cycle times and downtime reasons added on the admin page (source 'page')
-- next to those of the plant config (source 'config'). A config sync updates and
-- deactivates only what the config owns, so page rows survive restarts; a config that
-- later names the same row takes it over (source back to 'config').
ALTER TABLE products ADD COLUMN source text NOT NULL DEFAULT 'config' CHECK (source IN ('config', 'page'));
ALTER TABLE product_cycle_times ADD COLUMN source text NOT NULL DEFAULT 'config'
    CHECK (source IN ('config', 'page'));
ALTER TABLE downtime_reasons ADD COLUMN source text NOT NULL DEFAULT 'config' CHECK (source IN ('config', 'page'));
