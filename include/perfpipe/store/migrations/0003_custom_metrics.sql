-- Custom metrics of a load test (its metrics_frame, docs/architecture.md): one row per metric, the
-- stats its kind has (NULL otherwise), so the regression stage compares them with the baseline's.

CREATE TABLE perfpipe.custom_metrics (
    dag_id text NOT NULL, run_id text NOT NULL, stage text NOT NULL, map_index integer NOT NULL,
    name text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('counter', 'gauge', 'rate', 'trend')),
    unit text NOT NULL DEFAULT '',
    count double precision, rate double precision, value double precision,
    min double precision, mean double precision, p50 double precision, p90 double precision,
    p95 double precision, p99 double precision, p999 double precision, max double precision,
    invalid bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (dag_id, run_id, stage, map_index, name)
);
