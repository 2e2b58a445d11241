"""The reports page reads the shared reports folder that the workers publish to."""

from perfpipe_reports.runs import reports_dir


def test_reports_page_reads_the_shared_file_url_before_the_local_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("PERFPIPE_REPORTS_DIR", str(tmp_path / "local"))
    monkeypatch.setenv("PERFPIPE_REPORTS_URL", (tmp_path / "shared reports").as_uri())
    assert reports_dir() == (tmp_path / "shared reports").resolve()
    monkeypatch.setenv("PERFPIPE_REPORTS_URL", "s3://bucket/perfpipe")  # not a folder: the local one
    assert reports_dir() == (tmp_path / "local").resolve()
