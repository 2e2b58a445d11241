"""The "Performance reports" page of the perfpipe Airflow plugin."""
