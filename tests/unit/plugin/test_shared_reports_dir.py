"""The reports page reads the shared reports location that the workers publish to."""

from perfpipe_reports.runs import reports_location


def test_reports_page_reads_the_shared_url_before_the_local_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("PERFPIPE_REPORTS_DIR", str(tmp_path / "local"))
    monkeypatch.setenv("PERFPIPE_REPORTS_URL", (tmp_path / "shared reports").as_uri())
    assert reports_location() == (tmp_path / "shared reports").as_uri()
    monkeypatch.setenv("PERFPIPE_REPORTS_URL", "s3://aws_reports@bucket/perfpipe")  # object storage, read as such
    assert reports_location() == "s3://aws_reports@bucket/perfpipe"
    monkeypatch.delenv("PERFPIPE_REPORTS_URL")
    assert reports_location() == (tmp_path / "local").resolve().as_uri()
