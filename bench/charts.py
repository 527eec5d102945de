"""PNG charts of the gRPC rows: throughput and latency against concurrency, bare vs waitroom."""

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.axes import Axes

from bench.load import METHODS

SERVERS = (("bare", "tab:gray", "bare server"), ("waitroom", "tab:blue", "waitroom"))


def _series(
    rows: list[dict[str, Any]], method: str, server: str, figure: str
) -> tuple[list[int], list[float]]:
    mine = sorted((r for r in rows if r["method"] == method), key=lambda r: r["concurrency"])
    return [r["concurrency"] for r in mine], [r[server][figure] for r in mine]


def _frame(ax: Axes, method: str, rows: list[dict[str, Any]]) -> None:
    """Concurrency on a log axis ticked where it was measured; values from zero."""
    ax.set(title=method, xlabel="concurrent calls (ghz -c)", xscale="log")
    ticks = sorted({r["concurrency"] for r in rows})
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.minorticks_off()
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)


def _save(fig: Any, axes: Any, ylabel: str, title: str, path: Path) -> Path:
    axes[0].set_ylabel(ylabel)
    axes[0].legend(fontsize="small")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def throughput(rows: list[dict[str, Any]], title: str, path: Path) -> Path:
    fig, axes = plt.subplots(1, len(METHODS), figsize=(11, 4))
    for ax, method in zip(axes, METHODS, strict=True):
        for server, colour, label in SERVERS:
            x, y = _series(rows, method, server, "rps")
            ax.plot(x, y, marker="o", color=colour, label=label)
        floors = [r for r in rows if r["method"] == method and "floor" in r]
        ax.plot(
            [r["concurrency"] for r in floors],
            [r["floor"]["rps"] for r in floors],
            "D",
            color="tab:orange",
            label="floor: one Redis script call",
        )
        _frame(ax, method, rows)
    return _save(fig, axes, "calls per second", title, path)


def latency(rows: list[dict[str, Any]], title: str, path: Path) -> Path:
    fig, axes = plt.subplots(1, len(METHODS), figsize=(11, 4))
    for ax, method in zip(axes, METHODS, strict=True):
        for server, colour, label in SERVERS:
            for figure, style in (("p50_ms", "--"), ("p99_ms", "-")):
                x, y = _series(rows, method, server, figure)
                name = f"{label} {figure.removesuffix('_ms')}"
                ax.plot(x, y, style, marker="o", color=colour, label=name)
        _frame(ax, method, rows)
    return _save(fig, axes, "latency, ms", title, path)


def draw(rows: list[dict[str, Any]], title: str, stem: Path) -> list[Path]:
    return [
        throughput(rows, title, stem.with_name(f"{stem.name}-throughput.png")),
        latency(rows, title, stem.with_name(f"{stem.name}-latency.png")),
    ]
