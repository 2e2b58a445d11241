-- Cross-shard abort signal: the first shard of a run to abort records why; every other shard of the
-- run polls this row and stops. One row per run, so a retried task never adds a second one.

CREATE TABLE perfpipe.run_aborts (
    dag_id  text        NOT NULL,
    run_id  text        NOT NULL,
    reason  text        NOT NULL,
    shard   integer     NOT NULL,
    at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dag_id, run_id)
);
