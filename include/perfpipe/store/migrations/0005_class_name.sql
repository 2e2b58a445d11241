-- Frames name the threshold class class_name (it was klass); the stored columns follow, rows kept as they are.

ALTER TABLE perfpipe.endpoint_stats RENAME COLUMN klass TO class_name;
ALTER TABLE perfpipe.query_benchmark_stats RENAME COLUMN klass TO class_name;
ALTER TABLE perfpipe.timeseries RENAME COLUMN klass TO class_name;
ALTER TABLE perfpipe.validation_results RENAME COLUMN klass TO class_name;
