"""Every Plotly figure the pages show, built from plain arrays and lists (no streamlit here)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

PERCENT_TICKS = [0.0, 0.25, 0.5, 0.75, 1.0]
# Room right of a horizontal percent axis for half of its last label, "100%". Plotly hides a tick
# label that would stick out of the figure: with a 10 px margin the axis ended at "80%" (or "50%"
# on a narrow chart) under bars that reached further.
PERCENT_END_MARGIN = 30


def percent_axis(top: float = 1.0) -> dict:
    """An accuracy or probability axis: always 0 to 100 %, labelled every 25 % up to "100%".

    Args:
        top: where the axis ends, at 1 or a little above (room for markers drawn at 100 %).
    """
    return dict(range=[0, top], tickvals=PERCENT_TICKS, tickformat=".0%", ticklabeloverflow="allow")


def probability_bar(probabilities: np.ndarray, class_names: list[str], top: int = 10) -> go.Figure:
    """Horizontal bars of class probabilities, most likely on top."""
    probs = np.asarray(probabilities, np.float64)
    order = np.argsort(probs)[::-1][:top][::-1]
    colours = ["#d62728" if i == order[-1] else "#1f77b4" for i in order]
    fig = go.Figure(go.Bar(
        x=probs[order], y=[class_names[i] for i in order], orientation="h", marker_color=colours,
        text=[f"{p:.1%}" for p in probs[order]], textposition="auto",
        hovertemplate="%{y}: %{x:.2%}<extra></extra>",
    ))
    fig.update_layout(xaxis=dict(percent_axis(), title="probability"),
                      height=60 + 28 * len(order), margin=dict(l=10, r=PERCENT_END_MARGIN, t=10, b=40))
    return fig


def training_curves(batch_log: list[dict], epoch_log: list[dict], metric: str, smooth: float = 0.9,
                    max_points: int = 400, lr_log: list[dict] | None = None,
                    compare: tuple[str, dict] | None = None) -> go.Figure:
    """Per-batch (smoothed) and per-epoch train/validation curves of ``metric`` ("loss" or "accuracy").

    Args:
        batch_log: dicts with ``step`` (fractional epoch) and the metric.
        epoch_log: dicts with ``epoch`` (1-based) and the metric and ``val_<metric>``.
        smooth: exponential moving average factor for the batch curve.
        max_points: at most this many batch points are drawn (evenly spaced, newest kept).
        lr_log: learning-rate changes (``step``, ``learning_rate``), drawn as dashed vertical lines.
        compare: ``(label, history)`` of another run on the same data (a model card's per-epoch history), drawn
            dotted in the same colours, so both runs are read on one chart.
    """
    fig = go.Figure()
    if batch_log:
        steps = [b["step"] for b in batch_log]
        raw = [b.get(metric, np.nan) for b in batch_log]
        smoothed = ema(raw, smooth)
        # The browser redraws these every second while training: keep at most
        # about max_points points, always including the newest.
        stride = max(1, int(np.ceil(len(steps) / max_points)))
        keep = list(range(len(steps) - 1, -1, -stride))[::-1]
        steps, raw, smoothed = ([seq[i] for i in keep] for seq in (steps, raw, smoothed))
        fig.add_trace(go.Scatter(x=steps, y=raw, mode="lines", name="batch", line=dict(color="rgba(31,119,180,0.25)")))
        fig.add_trace(go.Scatter(x=steps, y=smoothed, mode="lines", name="batch (smoothed)", line=dict(color="#1f77b4")))
    if epoch_log:
        epochs = [e["epoch"] for e in epoch_log]
        fig.add_trace(go.Scatter(x=epochs, y=[e.get(metric) for e in epoch_log], mode="lines+markers",
                                 name="train (epoch)", line=dict(color="#ff7f0e")))
        if any(f"val_{metric}" in e for e in epoch_log):
            fig.add_trace(go.Scatter(x=epochs, y=[e.get(f"val_{metric}") for e in epoch_log], mode="lines+markers",
                                     name="validation", line=dict(color="#2ca02c")))
    if compare is not None:
        label, history = compare
        for key, name, colour in ((metric, "train (epoch)", "#ff7f0e"), (f"val_{metric}", "validation", "#2ca02c")):
            values = history.get(key) or []
            if values:
                fig.add_trace(go.Scatter(x=list(range(1, len(values) + 1)), y=list(values), mode="lines+markers",
                                         name=f"{label}: {name}", line=dict(color=colour, dash="dot"),
                                         marker=dict(symbol="circle-open")))
    for change in lr_log or []:
        # The label sits above the plot area, where no curve can run under it (inside, at the top, it
        # covered the loss curve, which starts at its highest).
        text = f"lr {change['learning_rate']:g}"
        fig.add_vline(x=change["step"], line_dash="dash", line_color="#7f7f7f")
        fig.add_annotation(x=change["step"], xref="x", y=1, yref="paper", yanchor="bottom", text=text,
                           showarrow=False, font=dict(size=11, color="#7f7f7f"),
                           hovertext=f"learning rate {change['learning_rate']:g} from epoch {change['step']:.2f} on")
    # The title stays in the top row, the learning-rate labels in the row just above the plot area.
    fig.update_layout(title=dict(text=metric, x=0, xref="paper", y=1, yref="container", yanchor="top"),
                      xaxis_title="epoch", height=320, margin=dict(l=10, r=10, t=56, b=40),
                      legend=dict(orientation="h", y=-0.25))
    if metric == "accuracy":
        fig.update_yaxes(percent_axis(top=1.02))
    return fig


def ema(values: list[float], factor: float) -> list[float]:
    """Exponential moving average, bias-corrected so the first points are not dragged to 0."""
    out, avg = [], 0.0
    for i, v in enumerate(values, 1):
        avg = factor * avg + (1 - factor) * v
        out.append(avg / (1 - factor ** i))
    return out


def class_count_bars(train_counts: dict, test_counts: dict) -> go.Figure:
    """Images per class in the training and test splits, side by side."""
    fig = go.Figure([go.Bar(name="train", x=list(train_counts), y=list(train_counts.values())),
                     go.Bar(name="test", x=list(test_counts), y=list(test_counts.values()))])
    fig.update_layout(barmode="group", height=320, margin=dict(l=10, r=10, t=10, b=40), xaxis_type="category")
    return fig


PIXEL_COLOURS = {"grey": "#7f7f7f", "red": "#d62728", "green": "#2ca02c", "blue": "#1f77b4"}


def pixel_histogram(stats: dict) -> go.Figure:
    """The share of pixels at each value, one translucent histogram per channel (``core.data.pixel_stats``)."""
    edges = np.asarray(stats["bin_edges"])
    centres = (edges[:-1] + edges[1:]) / 2
    fig = go.Figure([go.Bar(x=centres, y=stats["histogram"][i], name=name, marker_color=PIXEL_COLOURS[name],
                            opacity=0.6) for i, name in enumerate(stats["channels"])])
    fig.update_layout(barmode="overlay", height=260, margin=dict(l=10, r=10, t=10, b=40),
                      xaxis_title="pixel value", yaxis_title="share of pixels", yaxis_tickformat=".0%")
    return fig


def confusion_matrix(cm: np.ndarray, class_names: list[str]) -> go.Figure:
    """Counts of true (rows) against predicted (columns) classes, each cell labelled."""
    fig = go.Figure(go.Heatmap(z=cm, x=class_names, y=class_names, colorscale="Blues", text=cm, texttemplate="%{text}",
                               hovertemplate="true %{y}, predicted %{x}: %{z}<extra></extra>"))
    fig.update_layout(xaxis_title="predicted", yaxis_title="true", height=120 + 36 * len(class_names),
                      margin=dict(l=10, r=10, t=10, b=40))
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(type="category")
    return fig


def per_class_accuracy_bars(accuracy: np.ndarray, class_names: list[str]) -> go.Figure:
    """Horizontal bars of the accuracy of each class (NaN, a class without test images, drawn as 0)."""
    acc = np.nan_to_num(np.asarray(accuracy, np.float64))
    fig = go.Figure(go.Bar(x=acc, y=class_names, orientation="h", text=[f"{a:.0%}" for a in acc], textposition="auto"))
    fig.update_layout(xaxis=percent_axis(), height=120 + 28 * len(class_names),
                      margin=dict(l=10, r=PERCENT_END_MARGIN, t=10, b=40))
    fig.update_yaxes(autorange="reversed", type="category")
    return fig


def embedding_scatter(points: np.ndarray, labels: np.ndarray, class_names: list[str],
                      query: np.ndarray | None = None) -> go.Figure:
    """One dot per image at its 2-D embedding, coloured by class; ``query`` (x, y) drawn as a black star."""
    from plotly.colors import qualitative

    palette = qualitative.D3 + qualitative.Set3 + qualitative.Dark24  # distinct colours for up to ~50 classes
    fig = go.Figure()
    for c, name in enumerate(class_names):
        sel = labels == c
        fig.add_trace(go.Scattergl(x=points[sel, 0], y=points[sel, 1], mode="markers", name=name,
                                   marker=dict(size=5, opacity=0.7, color=palette[c % len(palette)]),
                                   text=[f"test image {i}" for i in np.flatnonzero(sel)],
                                   hovertemplate="%{text}<extra>" + name + "</extra>"))
    if query is not None:
        fig.add_trace(go.Scatter(x=[query[0]], y=[query[1]], mode="markers", name="your image",
                                 marker=dict(symbol="star", size=18, color="black", line=dict(color="white", width=1))))
    fig.update_layout(height=520, margin=dict(l=10, r=10, t=10, b=10), legend=dict(itemsizing="constant"))
    return fig
