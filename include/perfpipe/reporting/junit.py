"""``junit.xml``: one testcase per threshold check, so CI systems show breaches as failed tests."""

from __future__ import annotations

import xml.etree.ElementTree as ET


def render_junit(summary: dict) -> str:
    run, verdict = summary["run"], summary["verdict"]
    checks = summary["thresholds"]
    unusable = verdict["verdict"] in ("invalid", "error")
    gate = (summary.get("regression") or {}).get("gate") or {}
    compared = bool((summary.get("regression") or {}).get("baseline_found"))
    suite = ET.Element(
        "testsuite",
        {
            "name": f"perfpipe.{run['target']}.{run['profile']}",
            "tests": str(len(checks) + unusable + compared),
            "failures": str(sum(1 for c in checks if not c["success"]) + bool(compared and gate.get("regressed"))),
            "errors": str(int(unusable)),
            "timestamp": str(run.get("started_at") or ""),
        },
    )
    props = ET.SubElement(suite, "properties")
    for key in ("dag_id", "run_id", "version"):
        ET.SubElement(props, "property", {"name": key, "value": str(run.get(key) or "")})
    ET.SubElement(props, "property", {"name": "verdict", "value": verdict["headline"]})
    if unusable:  # the numbers say nothing about the target: one erroring case makes that visible
        case = ET.SubElement(suite, "testcase", {"classname": "perfpipe.run", "name": "run is valid"})
        ET.SubElement(case, "error", {"message": f"verdict {verdict['verdict']}: {verdict['reason']}"})
    for c in checks:
        where = c.get("class_name") or "all"
        if c.get("endpoint"):
            where += f".{c['endpoint']}"
        case = ET.SubElement(
            suite,
            "testcase",
            {
                "classname": f"perfpipe.{c.get('suite')}.{where}",
                "name": f"{c.get('metric')} {c.get('operator')} {c.get('threshold')} [{c.get('window')}]",
            },
        )
        if not c["success"]:
            ET.SubElement(
                case,
                "failure",
                {
                    "message": f"observed {c.get('observed')}, limit {c.get('operator')} {c.get('threshold')}",
                },
            )
    if compared:  # a regression shows as a failed case, whatever the verdict ("PASS · 2 regressions vs baseline")
        case = ET.SubElement(
            suite, "testcase", {"classname": "perfpipe.regression", "name": "no regression vs baseline"}
        )
        if gate.get("regressed"):
            ET.SubElement(case, "failure", {"message": f"{verdict['headline']}: {gate.get('reason')}"})
    ET.indent(suite)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"
