-- The regression gate's outcome of each run (regression, outlier, improvement, unchanged, accepted, unknown), so a
-- run the gate failed is never picked as a baseline, and the history's run-to-run noise as the run was judged.

ALTER TABLE perfpipe.runs ADD COLUMN regression text, ADD COLUMN noise jsonb;
