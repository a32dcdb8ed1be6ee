"""Draw the performance page's figures from the published benchmark results.

    python bench/plots.py                  # bench/results.json + bench/results-fit.json -> docs/img/*.svg
    python bench/plots.py --out /tmp/img   # somewhere else

Needs matplotlib (the ``bench`` extra: ``pip install -e '.[bench]'``). Reads the JSON that ``bench/run.py``
writes, draws nothing it does not find there (a results file without a section skips its figure), and writes
SVG with no timestamp and fixed element ids, so redrawing unchanged results changes no byte.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display, no GUI toolkit
import matplotlib.pyplot as plt  # after choosing the backend
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

BENCH = Path(__file__).resolve().parent
DOCS_IMG = BENCH.parent / "docs" / "img"
MB = 10**6
MIB = 2**20
ROUTER, BASELINE, GREY = "#1f77b4", "#d62728", "#7f7f7f"

__all__ = ["draw", "fit_figure", "inline_memory_figure", "main", "proxy_figure"]


def _caption(fig: Figure, res: dict[str, Any]) -> None:
    m = res["machine"]
    fig.suptitle(
        f"{res['date']}, {m['cpu']}, {m['cores']} cores, {m['implementation']} {m['python']}, router at {m['commit']}",
        x=0.99,
        ha="right",
        fontsize=7,
        color=GREY,
    )


def _plain(ax: Axes, axis: str = "both") -> None:
    """Log axes with plain numbers (1, 32, 256) instead of powers of ten."""
    fmt = FuncFormatter(lambda v, _pos: f"{v:g}")
    if axis in ("x", "both"):
        ax.xaxis.set_major_formatter(fmt)
    if axis in ("y", "both"):
        ax.yaxis.set_major_formatter(fmt)


def inline_memory_figure(res: dict[str, Any]) -> Figure | None:
    """Peak memory growth of one inlined request against the video's size: router's streamed body vs the naive
    download, b64encode, json.dumps recipe."""
    sizes = res.get("inline", {}).get("sizes")
    if not sizes:
        return None
    points = sorted(sizes.values(), key=lambda s: s["file_bytes"])
    video = [s["file_bytes"] / MB for s in points]
    fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    for who, label, color in (
        ("naive", "naive: download, b64encode, json.dumps", BASELINE),
        ("router", "router: streamed from the spooled download", ROUTER),
    ):
        growth = [s[who]["growth_bytes"] / MIB for s in points]
        ax.plot(video, growth, marker="o", color=color, label=label)
        for x, y in zip(video, growth, strict=True):
            text = f"{y:,.0f} MiB" if y >= 10 else f"{y:.1f} MiB"
            ax.annotate(text, (x, y), textcoords="offset points", xytext=(0, 7), ha="center", fontsize=8, color=color)
    ax.set_yscale("log")
    ax.set_ylim(top=2 * max(s["naive"]["growth_bytes"] for s in points) / MIB)  # room for the top label
    _plain(ax, "y")
    ax.set_xlabel("video size (MB); sent inline as base64, a third larger")
    ax.set_ylabel("peak memory growth of the request (MiB, log)")
    ax.set_title("Inlining a video URL: memory against video size")
    ax.legend(loc="center right")
    ax.grid(True, which="major", alpha=0.3)
    _caption(fig, res)
    return fig


def proxy_figure(res: dict[str, Any]) -> Figure | None:
    """Throughput and p99 latency against concurrency: the upstream reached directly, through `router serve`
    (1 and 2 workers), and the ceiling (uvicorn around an ASGI app that answers at once)."""
    proxy = res.get("proxy")
    if not proxy:
        return None
    text = proxy["text"]

    def series(workers: int, side: str, key: str) -> tuple[list[int], list[float]]:
        runs = sorted((r[side]["concurrency"], r[side][key]) for k, r in text.items() if k.startswith(f"w{workers}_"))
        return [c for c, _ in runs], [v for _, v in runs]

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.2), layout="constrained")
    ceiling = sorted((r["concurrency"], r["rps"], r["p99_ms"]) for r in proxy.get("ceiling", {}).values())
    for ax, key, ckey, title, ylabel in (
        (left, "rps", 1, "Throughput", "requests per second (log)"),
        (right, "p99_ms", 2, "p99 latency", "p99 latency, ms (log)"),
    ):
        # The direct path is measured beside each worker count; both runs are drawn, the second without a label.
        for workers, style in ((1, "-"), (2, ":")):
            xs, ys = series(workers, "direct", key)
            ax.plot(
                xs, ys, style, marker="o", color=GREY, label="direct (raw asyncio responder)" if workers == 1 else None
            )
        for workers, style in ((1, "-"), (2, "--")):
            xs, ys = series(workers, "proxy", key)
            ax.plot(
                xs, ys, style, marker="o", color=ROUTER, label=f"router serve, {workers} worker{'s' * (workers > 1)}"
            )
        if ceiling:
            label = "ceiling: uvicorn, do-nothing ASGI app"
            ax.plot([c[0] for c in ceiling], [c[ckey] for c in ceiling], "s--", color="#2ca02c", label=label)
        ax.set_xscale("log")
        ax.set_yscale("log")
        _plain(ax)
        ax.set_xticks(sorted({r["proxy"]["concurrency"] for r in text.values()}))
        ax.set_xlabel("concurrent connections (log)")
        ax.set_ylabel(ylabel)
        ax.set_title(f"{title}, ~400-byte text request")
        ax.grid(True, which="major", alpha=0.3)
    fig.legend(*left.get_legend_handles_labels(), loc="outside lower center", ncols=4, fontsize=8)
    _caption(fig, res)
    return fig


def fit_figure(res: dict[str, Any]) -> Figure | None:
    """`router.fit.fit()` time against the ffmpeg CLI with the same settings, per job (re-encodes and remuxes)."""
    fit = res.get("fit")
    if not fit:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), layout="constrained", width_ratios=[2, 1])
    groups = (("Re-encode 1080p to 720p 15 fps", fit.get("reencode", {})), ("Remux mkv -> mp4", fit.get("remux", {})))
    width = 0.38
    for ax, (title, jobs) in zip(axes, groups, strict=True):
        keys = list(jobs)
        xs = range(len(keys))
        ours = [jobs[k]["router"]["fit_s"] for k in keys]
        theirs = [jobs[k]["ffmpeg"]["seconds"] for k in keys]
        ax.bar([x - width / 2 for x in xs], ours, width, color=ROUTER, label="router.fit.fit()")
        ax.bar([x + width / 2 for x in xs], theirs, width, color=BASELINE, label="ffmpeg CLI")
        for x, a, b in zip(xs, ours, theirs, strict=True):
            ax.annotate(f"{a / b:.2f}x", (x, max(a, b)), textcoords="offset points", xytext=(0, 3), ha="center")
        # A re-encode source is hard (noisy) or easy (clean); remux jobs have one kind of source.
        ax.set_xticks(list(xs), [f"{jobs[k].get('kind', '')} {jobs[k]['seconds']} s".strip() for k in keys])
        ax.set_ylabel("wall time, s (median)")
        ax.set_title(title)
        ax.margins(y=0.15)
        ax.grid(True, axis="y", alpha=0.3)
    axes[0].legend(fontsize=8, loc="upper left")
    axes[0].set_xlabel("source (hard: noisy, easy: clean) and length")
    axes[1].set_xlabel("source length")
    _caption(fig, res)
    return fig


FIGURES = (
    ("results.json", "inline-memory.svg", inline_memory_figure),
    ("results.json", "proxy-throughput-p99.svg", proxy_figure),
    ("results-fit.json", "fit-vs-ffmpeg.svg", fit_figure),
)


def draw(results: Path, out: Path) -> list[Path]:
    """Every figure whose results exist in the folder ``results``, as SVG files in ``out``; the paths written."""
    plt.rcParams["svg.hashsalt"] = "router-bench"  # stable element ids: an unchanged figure is an unchanged file
    plt.rcParams["svg.fonttype"] = "none"  # text stays text (smaller, searchable)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for source, name, make in FIGURES:
        path = results / source
        if not path.exists():
            continue
        fig = make(json.loads(path.read_text()))
        if fig is None:
            continue
        fig.savefig(out / name, format="svg", metadata={"Date": None})
        plt.close(fig)
        written.append(out / name)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", default=str(BENCH), help="folder of results.json / results-fit.json")
    parser.add_argument("--out", default=str(DOCS_IMG), help="where the SVG files go (default docs/img)")
    args = parser.parse_args(argv)
    for path in draw(Path(args.results), Path(args.out)):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
