-- perfpipe results history: one row per DAG run, and per-stage rows keyed by
-- (dag_id, run_id, stage, map_index) so a retried task replaces exactly its own rows.

CREATE TABLE perfpipe.runs (
    dag_id       text        NOT NULL,
    run_id       text        NOT NULL,
    profile      text        NOT NULL,
    target       text        NOT NULL,
    version      text,
    started_at   timestamptz,
    ended_at     timestamptz,
    verdict      text        CHECK (verdict IN ('pass', 'fail', 'invalid', 'error')),
    reason       text,
    report_url   text,
    is_baseline  boolean     NOT NULL DEFAULT false,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dag_id, run_id)
);
CREATE INDEX runs_target_profile_started ON perfpipe.runs (target, profile, started_at DESC);
CREATE UNIQUE INDEX runs_one_baseline ON perfpipe.runs (target, profile) WHERE is_baseline;

-- Ledger of stage writes: one row per key, with the stage's small scalar facts.
CREATE TABLE perfpipe.stage_writes (
    dag_id     text        NOT NULL,
    run_id     text        NOT NULL,
    stage      text        NOT NULL CHECK (stage IN ('loadtest', 'database', 'db_benchmark', 'validation')),
    map_index  integer     NOT NULL,
    summary    jsonb       NOT NULL,
    written_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dag_id, run_id, stage, map_index)
);

-- stats_frame() rows of the HTTP load test (scope endpoint, class, total).
CREATE TABLE perfpipe.endpoint_stats (
    dag_id text NOT NULL, run_id text NOT NULL, stage text NOT NULL, map_index integer NOT NULL,
    scope text NOT NULL, name text NOT NULL, klass text NOT NULL,
    count bigint NOT NULL, errors bigint NOT NULL, error_rate double precision NOT NULL,
    rps double precision NOT NULL,
    min_ms double precision, mean_ms double precision, p50_ms double precision, p90_ms double precision,
    p95_ms double precision, p99_ms double precision, p999_ms double precision, max_ms double precision,
    status_counts jsonb NOT NULL,
    PRIMARY KEY (dag_id, run_id, stage, map_index, scope, name)
);

-- stats_frame() rows of the query benchmark (class db).
CREATE TABLE perfpipe.query_benchmark_stats (LIKE perfpipe.endpoint_stats INCLUDING ALL);

-- timeseries_frame() rows, one per second and class.
CREATE TABLE perfpipe.timeseries (
    dag_id text NOT NULL, run_id text NOT NULL, stage text NOT NULL, map_index integer NOT NULL,
    t integer NOT NULL, klass text NOT NULL, active_vus integer,
    requests bigint NOT NULL, rps double precision NOT NULL, errors bigint NOT NULL, dropped bigint NOT NULL,
    p50_ms double precision, p95_ms double precision, p99_ms double precision,
    PRIMARY KEY (dag_id, run_id, stage, map_index, t, klass)
);

CREATE TABLE perfpipe.db_findings (
    dag_id text NOT NULL, run_id text NOT NULL, stage text NOT NULL, map_index integer NOT NULL,
    position integer NOT NULL,
    check_name text NOT NULL,
    severity text NOT NULL CHECK (severity IN ('critical', 'warning', 'info')),
    object text, evidence jsonb, recommendation text, sql text,
    PRIMARY KEY (dag_id, run_id, stage, map_index, position)
);

CREATE TABLE perfpipe.db_maintenance (
    dag_id text NOT NULL, run_id text NOT NULL, stage text NOT NULL, map_index integer NOT NULL,
    position integer NOT NULL,
    table_name text, action text, status text, seconds double precision, message text,
    PRIMARY KEY (dag_id, run_id, stage, map_index, position)
);

CREATE TABLE perfpipe.validation_results (
    dag_id text NOT NULL, run_id text NOT NULL, stage text NOT NULL, map_index integer NOT NULL,
    position integer NOT NULL,
    suite text, window_name text, metric text, klass text, operator text,
    threshold double precision, observed double precision, success boolean NOT NULL,
    PRIMARY KEY (dag_id, run_id, stage, map_index, position)
);
