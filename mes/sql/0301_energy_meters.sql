-- Energy (issue 19): a kWh meter that rolls over at a reading (e.g. 42,949,672.96 kWh for a
-- uint32 register x 0.01), not at 2^bits; and the energy baselines fitted per line (ISO 50006:
-- E = intercept + slope x produced units, per shift, on a chosen period).
ALTER TABLE counter_bindings ADD COLUMN wraps_at double precision CHECK (wraps_at > 0);

CREATE TABLE energy_baselines (
    id          bigint           GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    line_id     text             NOT NULL REFERENCES equipment (id),
    fitted_from timestamptz      NOT NULL,
    fitted_to   timestamptz      NOT NULL CHECK (fitted_to > fitted_from),
    intercept   double precision NOT NULL,   -- kWh per shift with nothing produced: the base load
    slope       double precision NOT NULL,   -- kWh per produced unit
    r2          double precision,
    points      integer          NOT NULL CHECK (points >= 2),
    fitted_by   text             NOT NULL,
    fitted_at   timestamptz      NOT NULL DEFAULT now()
);
CREATE INDEX energy_baselines_line ON energy_baselines (line_id, fitted_at DESC);

-- Energy by the time element it was used in, from the same timeline the KPIs read (mes_kpi's
-- energy is the sum of these rows): APT producing, ADET stopped by delays and failures, AUST
-- setup, ADOT available without an order, PDT planned downtime, NODATA state unknown,
-- OUTSIDE no shift. Everything but APT is energy used while nothing was produced.
CREATE FUNCTION mes_energy_split(p_unit text, p_from timestamptz, p_to timestamptz)
RETURNS TABLE (element text, energy double precision, seconds double precision)
LANGUAGE sql STABLE AS $$
    SELECT coalesce(t.element, 'OUTSIDE'), coalesce(sum(t.energy), 0), coalesce(sum(t.seconds), 0)
    FROM mes_timeline_core(p_unit, p_from, p_to, true) t
    GROUP BY 1
$$;
