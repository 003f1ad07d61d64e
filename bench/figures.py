"""Figures: measured values with their targets, percentiles, and the machine's load.

Every benchmark adds ``Figure`` rows to a ``Results``; ``bench.run`` prints them and writes
docs/PERFORMANCE.md from them.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (nearest rank) of ``values``."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def timed(call: Callable[[], Any], repeat: int, warmup: int = 3) -> list[float]:
    """Seconds taken by each of ``repeat`` calls, after ``warmup`` untimed ones."""
    for _ in range(warmup):
        call()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return times


def load_average() -> str:
    """The 1/5/15-minute load averages, as ``uptime`` shows them."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "n/a"
    return f"{one:.2f}, {five:.2f}, {fifteen:.2f}"


@dataclass
class Figure:
    """One measured value: in ms (``unit`` "ms"), per second ("/s"), a count ("") or a
    multiple of the hello-world figure ("x")."""

    section: str
    name: str
    value: float
    unit: str = "ms"
    target: float | None = None
    # "max": the value must be <= target; "min": >= target; "eq": == target.
    kind: str = "max"
    baseline: float | None = None  # the hello-world figure of the same kind, for the ratio
    note: str = ""
    load: str = field(default_factory=load_average)

    @property
    def met(self) -> bool | None:
        """Whether the target is met; None when there is no target."""
        if self.target is None:
            return None
        if self.kind == "min":
            return self.value >= self.target
        if self.kind == "eq":
            return self.value == self.target
        return self.value <= self.target

    @property
    def ratio(self) -> float | None:
        """The value divided by the hello-world baseline."""
        if not self.baseline or math.isnan(self.value):
            return None
        return self.value / self.baseline

    def shown(self, value: float | None = None) -> str:
        """A value with its unit."""
        value = self.value if value is None else value
        if self.unit == "ms":
            return f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"
        if self.unit == "/s":
            return f"{value:.0f}/s"
        if self.unit == "x":
            return f"x{value:.1f}"
        return f"{value:g}"

    @property
    def target_text(self) -> str:
        """The target as a condition."""
        if self.target is None:
            return ""
        sign = {"max": "<=", "min": ">=", "eq": "="}[self.kind]
        return f"{sign} {self.shown(self.target)}"

    @property
    def met_text(self) -> str:
        """met / MISSED / (no target)."""
        return {True: "met", False: "MISSED", None: ""}[self.met]

    @property
    def ratio_text(self) -> str:
        """The ratio to the baseline, e.g. ``x12.3``."""
        ratio = self.ratio
        if ratio is None:
            return ""
        if self.unit == "/s":
            return f"{ratio:.2f} of hello"
        return f"x{ratio:.1f}"


@dataclass
class Results:
    """Everything measured in one run, in order, plus the series for the plot."""

    figures: list[Figure] = field(default_factory=list)
    scaling: list[dict[str, Any]] = field(default_factory=list)
    density: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # The hello-world baseline: one client (p50, p95), and 32 clients (requests/s, p95).
    hello_p50: float | None = None
    hello_p95: float | None = None
    hello_rps: float | None = None
    hello_load_p95: float | None = None

    def add(self, figure: Figure) -> Figure:
        """Record and print a figure."""
        self.figures.append(figure)
        print(format_row(figure), flush=True)
        return figure


def format_row(figure: Figure) -> str:
    """One line of the printed table."""
    return (f"  {figure.section:<12} {figure.name:<58} {figure.shown():>10}  {figure.target_text:>10}  "
            f"{figure.met_text:<6} {figure.ratio_text:<12} {figure.note}")
