"""The printed table, and docs/PERFORMANCE.md with its plot.

Only the part of docs/PERFORMANCE.md between the ``bench:results`` markers is rewritten, so
the findings written by hand around it stay.
"""

from __future__ import annotations

import platform
import subprocess
from datetime import datetime
from pathlib import Path

from bench.figures import Results, format_row

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "PERFORMANCE.md"
PLOT = ROOT / "docs" / "performance-scaling.png"
START = "<!-- bench:results:start (written by `make bench`; edit outside these markers) -->"
END = "<!-- bench:results:end -->"


def print_table(results: Results) -> None:
    """Every figure with its target and whether it is met."""
    print()
    print("=" * 120)
    print(f"  {'section':<12} {'figure':<58} {'measured':>10}  {'target':>10}  {'met?':<6} {'vs hello':<12} note")
    print("-" * 120)
    for figure in results.figures:
        print(format_row(figure))
    missed = [f for f in results.figures if f.met is False]
    print("-" * 120)
    print(f"  {sum(f.met is True for f in results.figures)} targets met, {len(missed)} missed")
    for note in results.notes:
        print(f"  note: {note}")


def machine() -> list[str]:
    """What the figures were measured on."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import os

    postgres = "?"
    try:
        postgres = subprocess.run(["psql", "--version"], capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return [
        f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, {postgres or 'psql not found'}",
    ]


def markdown(results: Results, *, started: datetime, load_before: str, load_after: str, quick: bool,
             picture: Path | None = None) -> str:
    """The generated part of docs/PERFORMANCE.md."""
    lines = [
        START,
        "",
        f"Measured {started:%Y-%m-%d %H:%M} UTC by `make bench`{' (BENCH_QUICK=1: smaller, fewer)' if quick else ''}; "
        f"{machine()[0]}.",
        f"Load average (1, 5, 15 min, as `uptime` shows): {load_before} at the start, {load_after} at the end. "
        "The machine was shared with other work while this ran; each figure's row shows the 1-minute load "
        "when it was taken.",
        "",
        "| section | figure | measured | target | met? | vs hello world | load | note |",
        "| --- | --- | ---: | ---: | --- | ---: | ---: | --- |",
    ]
    for f in results.figures:
        met = {True: "met", False: "**missed**", None: ""}[f.met]
        lines.append(f"| {f.section} | {f.name} | {f.shown()} | {f.target_text} | {met} | {f.ratio_text} | "
                     f"{f.load.split(',')[0]} | {f.note} |")
    lines += ["", f"{sum(f.met is True for f in results.figures)} targets met, "
                  f"{sum(f.met is False for f in results.figures)} missed.", ""]
    if results.scaling:
        lines += [
            "Availability (4 weeks, one treatment, all practitioners) and the 10-session plan, in-process, as "
            "the table grows. The appointments inside the asked window stay the same; only history is added.",
            "",
            "| appointments in the table | in the window | slots returned | availability p50 | p95 | plan p50 | p95 |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for row in results.scaling:
            lines.append(f"| {row['appointments']:,} | {row['in_window']:,} | {row['slots']:,} | "
                         f"{row['availability_p50']:.1f} ms | {row['availability_p95']:.1f} ms | "
                         f"{row['plan_p50']:.1f} ms | {row['plan_p95']:.1f} ms |")
        lines.append("")
    if results.density:
        lines += [
            "The same availability request as the window fills up (table size fixed):",
            "",
            "| appointments in the table | in the window | slots returned | availability p50 | p95 |",
            "| ---: | ---: | ---: | ---: | ---: |",
        ]
        for row in results.density:
            lines.append(f"| {row['appointments']:,} | {row['in_window']:,} | {row['slots']:,} | "
                         f"{row['availability_p50']:.1f} ms | {row['availability_p95']:.1f} ms |")
        lines.append("")
    if picture is not None:
        lines += [f"![Availability time against appointments]({picture.name})", ""]
    for note in results.notes:
        lines.append(f"- {note}")
    lines += ["", END]
    return "\n".join(lines)


def write_doc(results: Results, **kwargs) -> Path:
    """Replace the generated part of docs/PERFORMANCE.md (or create the file)."""
    generated = markdown(results, **kwargs)
    if DOC.exists() and START in DOC.read_text() and END in DOC.read_text():
        text = DOC.read_text()
        head, rest = text.split(START, 1)
        _, tail = rest.split(END, 1)
        DOC.write_text(head + generated + tail)
    else:
        DOC.write_text("# Performance\n\n" + generated + "\n")
    return DOC


def plot(results: Results) -> Path | None:
    """Availability time against appointments in the table and in the window (PNG)."""
    if not results.scaling:
        return None
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return _plot_svg(results)
    panels = 2 if results.density else 1
    fig, axes = plt.subplots(1, panels, figsize=(6 * panels, 4.2), squeeze=False)
    ax = axes[0][0]
    xs = [r["appointments"] for r in results.scaling]
    ax.plot(xs, [r["availability_p50"] for r in results.scaling], "o-", label="availability p50")
    ax.plot(xs, [r["availability_p95"] for r in results.scaling], "o--", label="availability p95")
    ax.plot(xs, [r["plan_p50"] for r in results.scaling], "s-", label="10-session plan p50")
    ax.plot(xs, [r["plan_p95"] for r in results.scaling], "s--", label="10-session plan p95")
    ax.set_xscale("log")
    ax.set_xlabel("appointments in the table (window content fixed)")
    ax.set_ylabel("ms, in-process")
    ax.set_ylim(bottom=0)
    ax.set_title("Grows with the table?")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    if results.density:
        ax = axes[0][1]
        xs = [r["in_window"] for r in results.density]
        ax.plot(xs, [r["availability_p50"] for r in results.density], "o-", label="availability p50")
        ax.plot(xs, [r["availability_p95"] for r in results.density], "o--", label="availability p95")
        ax.set_xlabel(f"appointments inside the 4-week window ({results.density[0]['appointments']:,} in the table)")
        ax.set_ylabel("ms, in-process")
        ax.set_ylim(bottom=0)
        ax.set_title("Grows with the window")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(PLOT, dpi=110)
    plt.close(fig)
    return PLOT


def _plot_svg(results: Results) -> Path:
    """A plain SVG line chart when matplotlib is missing (availability p50 vs table size)."""
    import math

    path = PLOT.with_suffix(".svg")
    rows = results.scaling
    width, height, pad = 560, 320, 50
    xs = [math.log10(r["appointments"]) for r in rows]
    ys = [r["availability_p50"] for r in rows]
    x0, x1 = min(xs), max(xs) or 1
    y1 = max(ys) * 1.2 or 1

    def point(x: float, y: float) -> str:
        px = pad + (x - x0) / ((x1 - x0) or 1) * (width - 2 * pad)
        py = height - pad - y / y1 * (height - 2 * pad)
        return f"{px:.1f},{py:.1f}"

    points = " ".join(point(x, y) for x, y in zip(xs, ys))
    labels = "".join(
        f'<text x="{point(x, 0).split(",")[0]}" y="{height - pad + 18}" font-size="11" text-anchor="middle">'
        f'{r["appointments"]:,}</text>' for x, r in zip(xs, rows))
    path.write_text(
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">'
        f'<rect width="100%" height="100%" fill="white"/>'
        f'<polyline fill="none" stroke="#2f6f6a" stroke-width="2" points="{points}"/>{labels}'
        f'<text x="{width / 2}" y="{height - 8}" font-size="12" text-anchor="middle">appointments in the table</text>'
        f'<text x="14" y="{height / 2}" font-size="12" transform="rotate(-90 14 {height / 2})" '
        f'text-anchor="middle">availability p50, ms (max {max(ys):.1f})</text></svg>')
    return path
