"""Interactive plotly charts, rendered offline: the plotly.js bundle is inlined once by the page, not here."""

from __future__ import annotations

import pandas as pd

from include.perfpipe.metrics import ALL, MetricsRecorder, overall

_CONFIG = {"displaylogo": False, "responsive": True}
_RAMP_FILL = "rgba(255, 165, 0, 0.12)"


def _div(fig, div_id: str, height: int = 360) -> str:
    fig.update_layout(
        margin={"l": 60, "r": 60, "t": 50, "b": 40},
        height=height,
        template="plotly_white",
        legend={"orientation": "h", "y": -0.2},
    )
    return fig.to_html(full_html=False, include_plotlyjs=False, config=_CONFIG, div_id=div_id)


def _shade_ramps(fig, stages: list[dict]) -> None:
    for stage in stages:
        if stage.get("kind") == "ramp":
            fig.add_vrect(
                x0=stage["start_s"],
                x1=stage["end_s"],
                fillcolor=_RAMP_FILL,
                line_width=0,
                layer="below",
                annotation_text="ramp",
                annotation_position="top left",
            )


def load_charts(load: dict) -> list[str]:
    """Throughput (req/s, errors, active VUs) and latency (p50/p95/p99) over time, ramps shaded."""
    series = overall(MetricsRecorder.from_dict(load["metrics"]).timeseries_frame())
    return _charts(series, load.get("stages") or [], "chart", "")


def scenario_charts(load: dict) -> dict[str, list[str]]:
    """The same two charts per named scenario (its own rows of the per-second frame); none for a run
    whose one scenario is the implicit one (``load_charts`` are its charts)."""
    recorder = MetricsRecorder.from_dict(load["metrics"])
    if not recorder.named_scenarios:
        return {}
    series = recorder.timeseries_frame()
    stages = load.get("stages") or []
    return {
        name: _charts(series[series["scenario"] == name], stages, f"chart-scenario-{i}", f" ({name})")
        for i, name in enumerate(recorder.scenarios)
    }


_PER_SECOND = {"counter": "added per second", "rate": "share true", "trend": "mean", "gauge": "highest"}


def metric_charts(load: dict) -> list[str]:
    """The journey's custom metrics per second, one panel each: a counter's sum, a rate's share true,
    a trend's mean and a gauge's highest value in that second."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from include.perfpipe.custom_metrics import CustomMetrics

    series = CustomMetrics.from_dict((load.get("journey") or {}).get("metrics")).series_frame()
    if series.empty:
        return []
    names = sorted(series["name"].unique())
    kinds = dict(zip(series["name"], series["kind"], strict=False))
    fig = make_subplots(
        rows=len(names),
        cols=1,
        shared_xaxes=True,
        subplot_titles=[f"{n} ({kinds[n]}: {_PER_SECOND[kinds[n]]})" for n in names],
    )
    for row, name in enumerate(names, start=1):
        mine = series[series["name"] == name]
        fig.add_trace(go.Scatter(x=mine["t"], y=mine["value"], name=name, mode="lines"), row=row, col=1)
        fig.update_yaxes(rangemode="tozero", row=row, col=1)
    fig.update_xaxes(title_text="seconds since start", row=len(names), col=1)
    fig.update_layout(title="Custom metrics per second", showlegend=False)
    _shade_ramps(fig, load.get("stages") or [])
    return [_div(fig, "chart-custom-metrics", height=max(360, 160 * len(names)))]


def _charts(series: pd.DataFrame, stages: list[dict], prefix: str, suffix: str) -> list[str]:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    total = series[series["class_name"] == ALL]
    if total.empty:
        return []

    throughput = make_subplots(specs=[[{"secondary_y": True}]])
    throughput.add_trace(go.Scatter(x=total["t"], y=total["rps"], name="req/s", mode="lines"))
    throughput.add_trace(
        go.Scatter(x=total["t"], y=total["errors"], name="errors/s", mode="lines", line={"color": "crimson"})
    )
    throughput.add_trace(
        go.Scatter(
            x=total["t"], y=total["active_vus"], name="active VUs", mode="lines", line={"dash": "dot", "color": "gray"}
        ),
        secondary_y=True,
    )
    throughput.update_layout(title=f"Throughput, errors and active virtual users{suffix}")
    throughput.update_xaxes(title_text="seconds since start")
    throughput.update_yaxes(title_text="per second", secondary_y=False, rangemode="tozero")
    few_vus = total["active_vus"].max() <= 10  # whole-number ticks, not 0.189 of a user
    throughput.update_yaxes(
        title_text="VUs",
        secondary_y=True,
        rangemode="tozero",
        showgrid=False,
        **({"tickmode": "linear", "tick0": 0, "dtick": 1} if few_vus else {}),
    )
    _shade_ramps(throughput, stages)

    latency = go.Figure()
    for col, name in (("p50_ms", "p50"), ("p95_ms", "p95"), ("p99_ms", "p99")):
        latency.add_trace(go.Scatter(x=total["t"], y=total[col], name=f"{name} (all)", mode="lines"))
    for class_name, group in series[series["class_name"] != ALL].groupby("class_name"):
        latency.add_trace(
            go.Scatter(x=group["t"], y=group["p95_ms"], name=f"p95 {class_name}", mode="lines", visible="legendonly")
        )
    latency.update_layout(
        title=f"Latency percentiles per second (ms){suffix}",
        xaxis_title="seconds since start",
        yaxis={"title": {"text": "ms"}, "rangemode": "tozero"},
    )
    _shade_ramps(latency, stages)
    return [_div(throughput, f"{prefix}-throughput"), _div(latency, f"{prefix}-latency")]


def trend_chart(history: list[dict], regression: dict | None = None) -> str | None:
    """p95/p99 latency and throughput over the recent runs (oldest first), one point per run, plus each
    class's p95 (shown from the legend) and the regression analysis's change points marked where the new
    level starts."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    points = pd.DataFrame(history)
    if len(points) < 2:
        return None
    labels = [f"{i + 1}: {r}" for i, r in enumerate(points["run_id"])]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Scatter(x=labels, y=points["p95_ms"], name="p95 ms", mode="lines+markers"))
    fig.add_trace(go.Scatter(x=labels, y=points["p99_ms"], name="p99 ms", mode="lines+markers"))
    fig.add_trace(go.Bar(x=labels, y=points["rps"], name="req/s", opacity=0.3), secondary_y=True)
    label_of = dict(zip(points["run_id"], labels, strict=False))
    regression = regression or {}
    by_class: dict[str, dict[str, float]] = {}
    for point in regression.get("trend") or []:
        for class_name, value in (point.get("p95_ms") or {}).items():
            if class_name != ALL and point.get("run_id") in label_of:
                by_class.setdefault(class_name, {})[point["run_id"]] = value
    for class_name, values in sorted(by_class.items()):
        fig.add_trace(
            go.Scatter(
                x=labels,
                y=[values.get(r) for r in points["run_id"]],
                name=f"p95 {class_name}",
                mode="lines+markers",
                visible="legendonly",
                line={"dash": "dot"},
            )
        )
    marked: dict[str, list[str]] = {}
    for cp in regression.get("change_points") or []:
        if cp.get("run_id") in label_of:
            where = "" if cp.get("class_name") == ALL else f" ({cp.get('class_name')})"
            marked.setdefault(label_of[cp["run_id"]], []).append(f"{cp.get('metric')}{where} {cp.get('direction')}")
    for label, notes in marked.items():
        fig.add_shape(
            type="line",
            xref="x",
            yref="paper",
            x0=label,
            x1=label,
            y0=0,
            y1=1,
            line={"dash": "dash", "color": "crimson"},
        )
        fig.add_annotation(
            x=label,
            y=1,
            yref="paper",
            text="change: " + ", ".join(notes),
            showarrow=False,
            font={"color": "crimson", "size": 10},
            yanchor="bottom",
        )
    fig.update_layout(title=f"Trend over the last {len(points)} runs")
    fig.update_xaxes(showticklabels=False, title_text="runs, oldest first (hover for run id)")
    fig.update_yaxes(title_text="ms", secondary_y=False, rangemode="tozero")  # 51 -> 54 ms is no cliff
    fig.update_yaxes(title_text="req/s", secondary_y=True, rangemode="tozero")
    return _div(fig, "chart-trend")
