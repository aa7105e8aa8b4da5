"""PNG figures with a headless backend: best-so-far curves and the toy functions' search paths."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display needed, ever

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402

from llmhpo.objectives.toy import ToyFunction  # noqa: E402


def safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._=-]+", "-", text).strip("-")


def plot_curves(summary: pd.DataFrame, task: str, path: Path) -> Path:
    """Best value so far against evaluations, one line and 95% band per tuner."""
    rows = summary[summary["task"] == task]
    ylabel = "best value so far (mean, 95% bootstrap)"
    return _plot_bands(rows, "k", "evaluations", ylabel, task, _log_fits(rows), path)


def plot_curve_grid(summary: pd.DataFrame, path: Path, columns: int = 4) -> Path:
    """Every task's best-so-far curves in one figure, a panel each, one legend for all: a suite
    read at a glance (curves/<task>.png hold the same, one task a figure)."""
    tasks = sorted(summary["task"].unique())
    tuners = sorted(summary["tuner"].unique())
    rows, legend_rows = -(-len(tasks) // columns), -(-len(tuners) // 5)
    legend_height = 0.25 * legend_rows + 0.15  # inches below the panels
    height = 2.6 * rows + legend_height
    fig, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, height), squeeze=False)
    for ax, task in zip(axes.flat, tasks, strict=False):
        rows = summary[summary["task"] == task]
        _draw_bands(ax, rows, "k", 0.15, linewidth=1.2)
        if _log_fits(rows):
            ax.set_yscale("log")
        ax.set_title(task, fontsize=9)
        ax.tick_params(which="both", labelsize=7)
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(tasks) :]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("evaluations", fontsize=8)
    for ax in axes[:, 0]:
        ax.set_ylabel("best so far (mean, 95%)", fontsize=8)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 5), fontsize=8)
    fig.tight_layout(rect=(0, legend_height / height, 1, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _log_fits(rows: pd.DataFrame) -> bool:
    """Whether a task's curves go on a log scale: where every mean is positive and they span
    a decade or more, so that the first evaluations' large values (an MSE of 1,000 before one
    of 0.01) do not flatten the differences at the end. Values within a decade (error rates
    of 0.1 to 0.4) read better on a linear scale, and values of 0 or below need one."""
    means = rows["mean"]
    return bool((means > 0).all() and means.max() >= 10 * means.min())


def plot_lines(
    frame: pd.DataFrame, column: str, ylabel: str, path: Path, log_y: bool = False
) -> Path:
    """`column` against evaluations, one line per tuner, with a band where `frame` has `low`
    and `high` (the leaderboard's mean rank, and its mean normalised regret with its interval,
    over every task and seed). `log_y`: a log scale, so that the first evaluations' large
    values do not flatten the differences at the end."""
    rows = frame.rename(columns={column: "mean"})
    return _plot_bands(rows, "k", "evaluations", ylabel, "", log_y, path)


def plot_cost(table: pd.DataFrame, task: str, cost: str, path: Path) -> Path:
    """Best value reached within each cost budget (epochs or seconds spent), one line and 95%
    band per tuner: a pruned study beside a full one at equal cost."""
    rows = table[table["task"] == task]
    xlabel = "epochs spent (steps reported)" if cost == "steps" else "seconds spent"
    ylabel = "best value within the cost (mean, 95% bootstrap)"
    return _plot_bands(rows, "cost", xlabel, ylabel, task, False, path)


def _plot_bands(
    rows: pd.DataFrame, x: str, xlabel: str, ylabel: str, title: str, log_y: bool, path: Path
) -> Path:
    """One line (`mean` against `x`) and its 95% band (`low`, `high`, where `rows` has them)
    per tuner of `rows`."""
    fig, ax = plt.subplots(figsize=(8, 4))
    _draw_bands(ax, rows, x, 0.2, marker="o", markersize=3)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if log_y:
        ax.set_yscale("log")
    # Beside the axes, not over them: a suite compares up to a dozen tuners, whose legend would
    # hide the curves (and matplotlib's search for a free "best" spot is slow with many points).
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _draw_bands(ax: Axes, rows: pd.DataFrame, x: str, alpha: float, **line: Any) -> None:
    """On `ax`, one line (`mean` against `x`, styled by `line`) and its band (`low`, `high`,
    where `rows` has them) per tuner of `rows`."""
    for tuner, group in rows.groupby("tuner", sort=True):
        group = group.sort_values(x)
        drawn = ax.plot(group[x], group["mean"], label=tuner, **line)[0]
        if "low" in group:
            ax.fill_between(group[x], group["low"], group["high"], color=drawn.get_color(),
                            alpha=alpha)  # fmt: skip


def plot_path(
    function: ToyFunction, points: list[tuple[float, float]], title: str, path: Path
) -> Path:
    """The paper's figure: the function as a colour map with contours, the search path with
    start and end marked, and the known optima."""
    (x_lo, x_hi), (y_lo, y_hi) = function.x1_range, function.x2_range
    grid_x, grid_y = np.meshgrid(
        np.linspace(x_lo - 0.5, x_hi + 0.5, 150), np.linspace(y_lo - 0.5, y_hi + 0.5, 150)
    )
    values = function(grid_x, grid_y) - function.minimum + 1e-3  # > 0 for the log colour scale
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    mesh = ax.pcolormesh(grid_x, grid_y, values, shading="auto", cmap="inferno", norm=LogNorm())
    fig.colorbar(mesh, ax=ax, label="value - minimum")
    ax.contour(grid_x, grid_y, values, levels=15, colors="salmon", linewidths=0.6, norm=LogNorm())
    if points:
        xs, ys = zip(*points, strict=True)
        ax.plot(xs, ys, color="royalblue", linewidth=1, marker="o", markersize=3)
        ax.plot(xs[0], ys[0], marker="o", color="mediumseagreen", markersize=9, label="start")
        ax.plot(xs[-1], ys[-1], marker="s", color="dodgerblue", markersize=8, label="end")
    for i, (ox, oy) in enumerate(function.optima):
        ax.plot(
            ox,
            oy,
            marker="*",
            color="limegreen",
            markersize=13,
            label="optimum" if i == 0 else None,
        )
    ax.set_xlim(x_lo - 0.5, x_hi + 0.5)
    ax.set_ylim(y_lo - 0.5, y_hi + 0.5)
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
