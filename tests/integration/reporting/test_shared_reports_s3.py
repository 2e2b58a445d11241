"""Shared reports on S3: a run published to moto's S3 server (a real S3 API on loopback) through
ObjectStoragePath, read back by the reports page from the same URL."""

import json
from posixpath import dirname, normpath
from urllib.parse import unquote, urlsplit

import pytest
from fastapi.testclient import TestClient

import tests.unit.plugin.conftest  # noqa: F401 (plugins/ on sys.path, as Airflow puts it)
from include.perfpipe.reporting import render_report
from include.perfpipe.runs import folder_name
from tests.html_links import linked_files
from tests.unit.reporting.synthetic import bundle

pytestmark = pytest.mark.integration

CONN_ID = "perf_reports_s3"
BUCKET, PREFIX = "perf-reports", "perfpipe"
REPORTS_URL = f"s3://{CONN_ID}@{BUCKET}/{PREFIX}"
DATA_DOCS = "gx/uncommitted/data_docs/local_site/index.html"


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """moto's S3 server on a free loopback port, a bucket, and a boto3 client on it."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    client = boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
    )
    client.create_bucket(Bucket=BUCKET)
    try:
        yield client, endpoint
    finally:
        server.stop()


@pytest.fixture()
def s3_connection(s3, monkeypatch):
    """The Airflow connection the URL names (``s3://perf_reports_s3@bucket/prefix``), as an environment variable."""
    _, endpoint = s3
    extra = {"endpoint_url": endpoint, "region_name": "us-east-1"}
    conn = {"conn_type": "aws", "login": "test", "password": "test", "extra": extra}
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(conn))


def _rendered_run(tmp_path) -> tuple[dict, object]:
    run = bundle(run_id="manual__2026-12-02T15:00:00+00:00")
    run["validation"]["data_docs"] = DATA_DOCS
    out_dir = tmp_path / "perf_smoke" / folder_name(run["run"]["run_id"])  # as runs.run_dir lays it out
    docs = out_dir / DATA_DOCS
    docs.parent.mkdir(parents=True)
    docs.write_text('<html><a href="validations/latency.whole.html">latency</a></html>')
    (docs.parent / "validations").mkdir()
    (docs.parent / "validations" / "latency.whole.html").write_text("<html>latency</html>")
    render_report(run, out_dir)
    return run, out_dir


def test_a_run_published_to_s3_is_complete_self_contained_and_served_by_the_reports_page(tmp_path, s3, s3_connection):
    from perfpipe_reports.app import create_app

    from include.pipelines.report_storage import publish_folder

    client, _ = s3
    run, out_dir = _rendered_run(tmp_path)
    url = publish_folder(out_dir, REPORTS_URL)
    folder = f"{PREFIX}/perf_smoke/{out_dir.name}"
    assert url == f"s3://{CONN_ID}@{BUCKET}/{folder}/report.html"

    keys = {o["Key"] for o in client.list_objects_v2(Bucket=BUCKET, Prefix=folder + "/")["Contents"]}
    local = {f"{folder}/{p.relative_to(out_dir).as_posix()}" for p in out_dir.rglob("*") if p.is_file()}
    assert keys == local and f"{folder}/summary.json" in keys and f"{folder}/{DATA_DOCS}" in keys
    for key in keys:  # byte for byte
        published = client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        assert published == (out_dir / key[len(folder) + 1 :]).read_bytes(), key

    report = client.get_object(Bucket=BUCKET, Key=f"{folder}/report.html")["Body"].read().decode()
    files = linked_files(report)
    assert DATA_DOCS in files, files
    for link in files:
        assert not urlsplit(link).scheme, f"absolute link in the report: {link}"
        key = normpath(f"{folder}/{unquote(urlsplit(link).path)}")
        assert dirname(key).startswith(folder) and key in keys, link

    page = TestClient(create_app(REPORTS_URL, dsn=lambda: None))
    listed = page.get("/api/runs").json()["runs"]
    assert [(r["run_id"], r["folder"]) for r in listed] == [(run["run"]["run_id"], f"perf_smoke/{out_dir.name}")]
    assert f'href="reports/perf_smoke/{out_dir.name}/report.html"' in page.get("/").text
    served = page.get(f"/reports/perf_smoke/{out_dir.name}/report.html")
    assert served.status_code == 200 and served.text == report
    assert served.headers["content-type"].startswith("text/html")
    assert page.get(f"/reports/perf_smoke/{out_dir.name}/{DATA_DOCS}").status_code == 200
    tab = page.get(f"/runs/perf_smoke/{run['run']['run_id']}", follow_redirects=False)
    assert tab.headers["location"] == f"../../reports/perf_smoke/{out_dir.name}/report.html"
    for missing in (f"/reports/perf_smoke/{out_dir.name}/nothing.html", "/reports/perf_smoke/..%2F..%2Fx/report.html"):
        assert page.get(missing).status_code == 404
