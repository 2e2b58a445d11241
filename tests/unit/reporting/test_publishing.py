"""The Airflow side of publishing: folder copy through ObjectStoragePath, and a notifier that no-ops unconfigured."""

import copy
from types import SimpleNamespace

import pytest

from include.pipelines.notifications import SLACK_CONN, SMTP_CONN, alert_for, notify
from include.pipelines.publishing import report_asset
from include.pipelines.report_storage import publish_folder


def _report(tmp_path):
    src = tmp_path / "reports" / "perf_smoke" / "manual__run_1"
    (src / "gx").mkdir(parents=True)
    for name in ("report.html", "summary.md", "summary.json", "junit.xml", "gx/index.html"):
        (src / name).write_text(f"content of {name}")
    return src


def test_folder_is_copied_under_dag_and_run(tmp_path):
    src = _report(tmp_path)
    url = publish_folder(src, (tmp_path / "published").as_uri())
    dest = tmp_path / "published" / "perf_smoke" / "manual__run_1"
    assert url == (dest / "report.html").as_uri()
    copied = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())
    assert copied == ["gx/index.html", "junit.xml", "report.html", "summary.json", "summary.md"]
    assert (dest / "gx/index.html").read_text() == "content of gx/index.html"
    publish_folder(src, (tmp_path / "published").as_uri())  # a retry overwrites, same files
    assert len([p for p in dest.rglob("*") if p.is_file()]) == 5


def test_rendering_in_place_copies_nothing(tmp_path):
    src = _report(tmp_path)
    url = publish_folder(src, (tmp_path / "reports").as_uri())
    assert url == (src / "report.html").as_uri()
    assert (src / "report.html").read_text() == "content of report.html"


def test_notifier_is_a_no_op_without_connections(monkeypatch):
    for conn in (SLACK_CONN, SMTP_CONN):
        monkeypatch.delenv(f"AIRFLOW_CONN_{conn.upper()}", raising=False)
    assert notify("summary", "fail", subject="s") == []


def test_failing_run_is_mailed_to_the_connection_recipients(monkeypatch):
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    sent = []
    monkeypatch.setenv(f"AIRFLOW_CONN_{SMTP_CONN.upper()}", "smtp://127.0.0.1:9?to=a%40x.test%2C+b%40x.test")
    monkeypatch.setattr(SmtpHook, "__enter__", lambda self: self)
    monkeypatch.setattr(SmtpHook, "__exit__", lambda self, *exc: None)
    monkeypatch.setattr(SmtpHook, "send_email_smtp", lambda self, **kw: sent.append(kw))
    assert notify("<b>summary</b>", "fail", subject="perfpipe FAIL") == ["smtp"]
    assert sent[0]["to"] == ["a@x.test", "b@x.test"] and sent[0]["subject"] == "perfpipe FAIL"
    assert sent[0]["html_content"] == "<pre>&lt;b&gt;summary&lt;/b&gt;</pre>"
    assert notify("summary", "pass", subject="s") == []  # pass never notifies


def test_report_asset_uri_is_static():
    assert report_asset.uri.startswith("perfpipe://reports")


def _ctx(task_id, **params):
    return {
        "params": params,
        "dag": SimpleNamespace(dag_id="perf_release_gate"),
        "run_id": "manual__1",
        "ti": SimpleNamespace(task_id=task_id),
        "dag_run": SimpleNamespace(start_date=None),
    }


def test_task_groups_keep_their_runs_apart():
    """The release gate's profiles share a DAG run: preflight names each group's run, publish keeps it."""
    from include.pipelines.run_identity import group_run_id, run_identity

    assert group_run_id(_ctx("load.preflight")) == "manual__1.load"
    assert group_run_id(_ctx("preflight")) == "manual__1"
    assert run_identity(_ctx("load.publish"), None)["run_id"] == "manual__1.load"
    plan = {"run": {"dag_id": "perf_release_gate", "run_id": "manual__1.load", "profile": "load", "target": "t"}}
    assert run_identity(_ctx("load.publish"), plan)["run_id"] == "manual__1.load"


def test_run_identity_without_a_plan_comes_from_the_context():
    from include.pipelines.run_identity import run_identity

    run = run_identity(_ctx("publish", db_conn_id="perf_target_db"), None)
    assert (run["dag_id"], run["run_id"], run["profile"], run["target"]) == (
        "perf_release_gate",
        "manual__1",
        "perf_release_gate",
        "perf_target_db",
    )
    assert run["ended_at"]


def test_a_passing_run_that_regressed_alerts_only_where_regressions_fail_the_run():
    regressed, steady = {"regressed": True}, {"regressed": False}
    assert alert_for("pass", regressed, fail_on_regression=True) == "regression"
    assert alert_for("pass", regressed, fail_on_regression=False) == "pass"
    assert alert_for("pass", steady, fail_on_regression=True) == "pass"
    assert alert_for("fail", steady, fail_on_regression=False) == "fail"


def test_publish_run_reads_its_inputs_and_never_changes_them(tmp_path, monkeypatch):
    """The stage results and the plan come out as they went in, even when the store fails and the task fails."""
    from include.pipelines import publishing, targets
    from tests.unit.reporting import synthetic

    def unreachable(conn_id):
        raise ConnectionError(f"{conn_id} is down")

    monkeypatch.setattr(targets, "postgres_dsn", unreachable)
    monkeypatch.setenv("PERFPIPE_REPORTS_DIR", str(tmp_path / "reports"))
    monkeypatch.delenv("PERFPIPE_REPORTS_URL", raising=False)
    monkeypatch.setattr(publishing, "notify", lambda *args, **kwargs: [])
    bundle = synthetic.bundle(run_id="manual__1")
    database = dict(bundle["database"])
    inputs = {
        "plan": {"run": bundle["run"]},
        "load": synthetic.load_result(),
        "benchmark": database.pop("benchmark"),
        "db": database,
        "validation": bundle["validation"],
    }
    before = copy.deepcopy(inputs)
    ctx = {
        **_ctx("publish"),
        "task": SimpleNamespace(get_flat_relative_ids=lambda upstream: set()),
        "outlet_events": {report_asset: SimpleNamespace(extra=None)},
    }
    with pytest.raises(RuntimeError, match="recording the run in the results store failed: perf_results_db is down"):
        publishing.publish_run(ctx, **inputs)
    assert inputs == before
    assert ctx["outlet_events"][report_asset].extra["run_id"] == "manual__1"
