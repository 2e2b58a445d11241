-- Named scenarios, groups and tags: stats rows carry their scenario, group, tags and check counts;
-- per-second rows their scenario ('all' for rows spanning the run). An endpoint name is unique within
-- its scenario only, so the scenario joins the keys.

ALTER TABLE perfpipe.endpoint_stats
    ADD COLUMN scenario text NOT NULL DEFAULT 'all',
    ADD COLUMN group_name text NOT NULL DEFAULT '',
    ADD COLUMN tags jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN checks_passed bigint NOT NULL DEFAULT 0,
    ADD COLUMN checks_failed bigint NOT NULL DEFAULT 0,
    ADD COLUMN check_pass_rate double precision,
    DROP CONSTRAINT endpoint_stats_pkey,
    ADD PRIMARY KEY (dag_id, run_id, stage, map_index, scope, scenario, name);

ALTER TABLE perfpipe.query_benchmark_stats
    ADD COLUMN scenario text NOT NULL DEFAULT 'all',
    ADD COLUMN group_name text NOT NULL DEFAULT '',
    ADD COLUMN tags jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN checks_passed bigint NOT NULL DEFAULT 0,
    ADD COLUMN checks_failed bigint NOT NULL DEFAULT 0,
    ADD COLUMN check_pass_rate double precision,
    DROP CONSTRAINT query_benchmark_stats_pkey,
    ADD PRIMARY KEY (dag_id, run_id, stage, map_index, scope, scenario, name);

ALTER TABLE perfpipe.timeseries
    ADD COLUMN scenario text NOT NULL DEFAULT 'all',
    DROP CONSTRAINT timeseries_pkey,
    ADD PRIMARY KEY (dag_id, run_id, stage, map_index, t, scenario, klass);
