"""The results of one ``make bench`` as JSON, a Markdown table and a PNG chart."""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .results import Measurement

__all__ = ["machine", "write_chart", "write_json", "write_markdown"]


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
    }


def write_json(path: Path, results: Sequence[Measurement], extra: dict[str, Any]) -> None:
    document = {**extra, "results": [m.to_json() for m in results]}
    path.write_text(json.dumps(document, indent=2) + "\n")


def _figure(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if value >= 100 else f"{value:,.2f}"


def _params(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items())


def markdown_table(results: Sequence[Measurement]) -> str:
    lines = [
        "| scenario | system | parameters | median | min-max | unit |",
        "|---|---|---|---:|---:|---|",
    ]
    for m in results:
        if m.error:
            lines.append(
                f"| {m.scenario} | {m.system} | {_params(m.params)} | failed | | {m.error[:80]} |"
            )
            continue
        spread = f"{_figure(m.low)}-{_figure(m.high)}"
        lines.append(
            f"| {m.scenario} | {m.system} | {_params(m.params)} | {_figure(m.median)} "
            f"| {spread} | {m.unit} |"
        )
    return "\n".join(lines)


def write_markdown(path: Path, results: Sequence[Measurement], header: str) -> str:
    text = f"{header}\n\n{markdown_table(results)}\n"
    path.write_text(text)
    return text


def write_chart(path: Path, results: Sequence[Measurement]) -> bool:
    """Drain throughput of every system: median bars with min-max whiskers. Without
    matplotlib (the ``bench`` extra) there is no chart: returns ``False``."""
    try:
        import matplotlib
    except ImportError:
        return False

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    drains = [m for m in results if m.scenario == "drain" and m.median is not None]
    labels = [
        f"{m.system}\nconcurrency {m.params['concurrency']}"
        if "concurrency" in m.params
        else m.system
        for m in drains
    ]
    medians = [m.median or 0 for m in drains]
    errors = [
        [(m.median or 0) - (m.low or 0) for m in drains],
        [(m.high or 0) - (m.median or 0) for m in drains],
    ]
    figure, axes = plt.subplots(figsize=(11, 0.5 * len(drains) + 1.5))
    axes.barh(labels, medians, xerr=errors, color="#3b7dd8", capsize=3)
    axes.invert_yaxis()
    axes.set_xlabel("jobs/s (median of runs, min-max whiskers)")
    axes.set_title("Drain: no-op jobs, one worker process")
    axes.tick_params(axis="y", labelsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True
