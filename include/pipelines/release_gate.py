"""The release gate: smoke, then load, then stress in one DAG run, stopping at the first failed gate."""

from __future__ import annotations

from airflow.sdk import Param, TaskGroup, TriggerRule, dag, get_current_context, task

from include.pipelines.perf_dag import DAG_DEFAULTS, perf_pipeline
from include.pipelines.run_form import perf_params

GATE_ORDER = ("smoke", "load", "stress")


def gate_params() -> dict[str, Param]:
    params = {name: p for name, p in perf_params("smoke").items() if name not in ("profile", "mark_baseline")}
    params["profiles"] = Param(
        list(GATE_ORDER),
        type="array",
        items={"type": "string", "enum": list(GATE_ORDER)},
        title="Profiles",
        description="Gates to run, always in the order smoke, load, stress.",
        section="Release",
    )
    params["version"] = Param(
        None,
        type=["null", "string"],
        title="Release version",
        description="The version label this gate judges, e.g. v1.4.0; recorded with its verdict.",
        section="Release",
    )
    return params


@task(trigger_rule=TriggerRule.ALL_DONE)
def open_gate(profile: str, previous: dict | None) -> None:
    """Skip this profile (and so everything after it) unless it was chosen and every earlier gate passed."""
    from airflow.sdk.exceptions import AirflowSkipException

    chosen = get_current_context()["params"]["profiles"]
    if profile not in chosen:
        raise AirflowSkipException(f"{profile} was not chosen for this gate")
    earlier = [p for p in GATE_ORDER[: GATE_ORDER.index(profile)] if p in chosen]
    if earlier and (previous is None or previous.get("verdict") != "pass"):
        state = previous["verdict"] if previous else "did not finish"
        raise AirflowSkipException(f"{profile} skipped: the {earlier[-1]} gate {state}")


@task(task_id="release_verdict", trigger_rule=TriggerRule.ALL_DONE)
def final_verdict(publications: dict) -> dict:
    """One verdict for the release, pushed to XCom (key ``release_verdict``) before the run goes red or green."""
    from airflow.sdk.exceptions import AirflowFailException

    from include.perfpipe.regression import release_verdict

    ctx = get_current_context()
    results = [(p, publications[p]["verdict"], publications[p]["reason"]) for p in GATE_ORDER if publications.get(p)]
    outcome = release_verdict(results, planned=[p for p in GATE_ORDER if p in ctx["params"]["profiles"]])
    outcome["version"] = ctx["params"]["version"]
    outcome["reports"] = {p: pub.get("report_url") for p, pub in publications.items() if pub}
    ctx["ti"].xcom_push(key="release_verdict", value=outcome)
    if outcome["verdict"] != "pass":
        raise AirflowFailException(f"release {outcome['version']}: {outcome['verdict']}: {outcome['reason']}")
    return outcome


def build_release_gate_dag(dag_id: str, *, doc_md: str):
    @dag(
        dag_id=dag_id,
        schedule=None,
        **DAG_DEFAULTS,
        doc_md=doc_md,
        tags=["perfpipe", "release"],
        params=gate_params(),
        render_template_as_native_obj=True,
    )
    def release_gate():
        publications, previous = {}, None
        for profile in GATE_ORDER:
            with TaskGroup(profile):
                gate = open_gate.override(task_id="open_gate")(profile, previous)
                publications[profile], _ = perf_pipeline(profile, after=gate)
            previous = publications[profile]
        final_verdict(publications)

    return release_gate()
