"""router.fit (PyAV, in-process) against the ffmpeg CLI with the same settings, measured in the same run.

    python bench/fit.py            # full: hard 1080p sources of 30, 60 and 240 s, an easy 60 s one (~15 min)
    python bench/fit.py --quick    # 30 and 60 s only, one repetition (~3 min)
    python bench/run.py --only fit # the same, inside the shared report

Needs Debian's ``ffmpeg`` on PATH (the baseline, and the maker of the sources) and the ``fit`` extra.
Sources are 1080p30 H.264 at 12 Mb/s + AAC 128 kb/s stereo (``testsrc2`` under temporal noise: hard to
compress; without noise: easy), made at bench time and cached in bench/.cache; the Matroska copies are for
the remux. Every measurement is a fresh child process, timed from start to exit; peak RSS is the child's
``ru_maxrss`` from ``wait4``. PyAV and the CLI take turns (A B, then B A).

- **re-encode**: ``router.fit.fit()`` with an 18 MB budget per 60 s of video (so every source gets the same
  settings: 720p 15 fps, ~2.2 Mb/s) against ``ffmpeg -vf fps,scale -c:v libx264 -preset veryfast -b:v
  -maxrate -bufsize -c:a aac`` with the very settings ``router.fit.plan_encoding`` chose. The router's time
  includes its probe (demux every packet, decode the first frames) and reading the result back.
- **remux**: mkv -> mp4 (``+faststart``) by ``fit()`` against ``ffmpeg -c copy -movflags +faststart``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
CACHE = BENCH / ".cache"
PY = sys.executable
MB = 10**6
BUDGET_PER_MINUTE = 18 * MB


@dataclass(frozen=True)
class Plan:
    hard: tuple[int, ...] = (30, 60, 240)  # seconds of each hard source
    easy: tuple[int, ...] = (60,)
    remux: tuple[int, ...] = (60, 240)
    reps: int = 5  # rounds of the 60 s re-encode and of each remux
    other_reps: int = 2  # rounds of the other re-encodes (A B, then B A)


FULL = Plan()
QUICK = Plan(hard=(30, 60), easy=(), remux=(60,), reps=1, other_reps=1)


def log(message: str) -> None:
    sys.stderr.write(f"[bench fit {time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


# -- sources ----------------------------------------------------------------------------------------------------


def source(seconds: int, kind: str = "hard", container: str = "mp4") -> Path:
    """The cached 1080p30 source (made with the ffmpeg CLI when missing; the mkv is a copy of the mp4)."""
    path = CACHE / f"fit-{kind}-{seconds}s.{container}"
    if path.exists():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.stem + ".part" + path.suffix)
    if container == "mkv":
        argv = ["-i", str(source(seconds, kind)), "-c", "copy"]
    else:
        noise = ",noise=alls=25:allf=t" if kind == "hard" else ""
        argv = [
            *("-f", "lavfi", "-i", f"testsrc2=size=1920x1080:rate=30{noise}"),
            *("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"),
            *("-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"),
            *("-b:v", "12M", "-maxrate", "12M", "-bufsize", "24M", "-c:a", "aac", "-b:a", "128k", "-ac", "2"),
        ]
    log(f"making {path.name}")
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *argv, str(part)], check=True)
    part.rename(path)
    return path


# -- children ---------------------------------------------------------------------------------------------------


# A forked child's peak RSS starts at its parent's (the pages it shares until exec), so children are started
# from this small wrapper rather than from the bench process: both sides carry the same ~10 MiB floor.
WRAPPER = """
import os, sys
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[1], sys.argv[1:])
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
sys.stderr.write("\\nBENCH-RSS-KB %d CPU-S %.3f\\n" % (usage.ru_maxrss, usage.ru_utime + usage.ru_stime))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def measure(argv: Sequence[str]) -> dict[str, Any]:
    """Wall time and peak RSS of one child process; its last stdout line, when JSON, is merged in."""
    with tempfile.TemporaryFile() as out_file, tempfile.TemporaryFile() as err_file:
        start = time.perf_counter()
        code = subprocess.call([PY, "-I", "-S", "-c", WRAPPER, *argv], stdout=out_file, stderr=err_file)
        seconds = time.perf_counter() - start
        out_file.seek(0)
        err_file.seek(0)
        out, err = out_file.read().decode(), err_file.read().decode()
    if code != 0:
        raise RuntimeError(f"{' '.join(map(str, argv[:5]))} failed ({code}): {err[-2000:]}")
    report = err.rsplit("BENCH-RSS-KB ", 1)[1].split()
    result: dict[str, Any] = {"seconds": seconds, "peak_rss_bytes": int(report[0]) * 1024, "cpu_s": float(report[2])}
    lines = out.strip().splitlines()
    if lines and lines[-1].startswith("{"):
        result.update(json.loads(lines[-1]))
    return result


def child(argv: Sequence[str]) -> int:
    """``child SRC OUT_DIR BUDGET|- MIME``: run router.fit.fit() once and print what it made as JSON."""
    imports = time.perf_counter()
    from router.fit import fit

    src, out_dir, budget, mime = Path(argv[0]), Path(argv[1]), argv[2], argv[3]
    started = time.perf_counter()
    (part,) = fit(
        src, budget=None if budget == "-" else int(budget), max_duration=None, accepted=[mime], workdir=out_dir
    )
    done = time.perf_counter()
    record = {"size": part.size, "duration": part.duration, "note": part.note, "action": part.action}
    print(json.dumps({**record, "fit_s": done - started, "import_s": started - imports, "path": str(part.path)}))
    return 0


def cli_reencode(src: Path, out: Path, budget: int) -> list[str]:
    """The ffmpeg command with the settings router.fit chooses for ``src`` under ``budget``."""
    from router._fit.encode import BUFFER_SECONDS, MAXRATE
    from router.fit import plan_encoding, probe

    info = probe(src)
    enc = plan_encoding(info, info.duration, budget)
    assert enc.video_bps is not None, "the bench budgets are meant to be tight (ABR), not roomy (CRF)"
    buffer = min(BUFFER_SECONDS, max(0.5, info.duration / 8))
    return [
        *("ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(src), "-map", "0:v:0", "-map", "0:a:0"),
        *("-vf", f"fps={enc.fps},scale={enc.width}:{enc.height}:flags=bilinear"),
        *("-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-b:v", str(enc.video_bps)),
        *("-maxrate", str(int(enc.video_bps * MAXRATE)), "-bufsize", str(int(enc.video_bps * buffer))),
        *("-c:a", "aac", "-b:a", str(enc.audio_bps), "-ac", str(enc.audio_channels), "-ar", str(enc.sample_rate)),
        *("-movflags", "+faststart", str(out)),
    ]


# -- the runs ---------------------------------------------------------------------------------------------------


def _pair(router_argv: list[str], cli_argv: list[str], cli_out: Path, reps: int, label: str) -> dict[str, Any]:
    """Both commands ``reps`` times, taking turns; medians of time, maxima of RSS and output size."""
    runs: dict[str, list[dict[str, Any]]] = {"router": [], "ffmpeg": []}
    for rep in range(reps):
        for who in ("router", "ffmpeg") if rep % 2 == 0 else ("ffmpeg", "router"):
            got = measure(router_argv if who == "router" else cli_argv)
            if who == "ffmpeg":
                got["size"] = cli_out.stat().st_size
            runs[who].append(got)
            inside = f" ({got['fit_s']:.2f} s in fit())" if "fit_s" in got else ""
            rss = got["peak_rss_bytes"] / 2**20
            log(f"{label} {who}: {got['seconds']:.2f} s{inside}, {rss:.0f} MiB, {got['size']:,} B")
            for path in (cli_out, Path(got.pop("path", cli_out))):
                path.unlink(missing_ok=True)
    return {
        who: {
            "seconds": statistics.median(r["seconds"] for r in rs),
            "cpu_s": statistics.median(r["cpu_s"] for r in rs),
            **({"fit_s": statistics.median(r["fit_s"] for r in rs)} if who == "router" else {}),
            "peak_rss_bytes": max(r["peak_rss_bytes"] for r in rs),
            "size": max(r["size"] for r in rs),
            "samples": rs,
        }
        for who, rs in runs.items()
    }


def bench(quick: bool = False, settle: Callable[[], dict[str, float]] | None = None) -> dict[str, Any]:
    if shutil.which("ffmpeg") is None:
        raise SystemExit("the fit benchmark needs the ffmpeg CLI as its baseline: apt-get install -y ffmpeg")
    plan = QUICK if quick else FULL
    work = CACHE / "fit-out"
    work.mkdir(parents=True, exist_ok=True)
    me = [PY, str(Path(__file__).resolve()), "child"]
    res: dict[str, Any] = {"reencode": {}, "remux": {}, "ffmpeg": _ffmpeg_version()}
    jobs = [("hard", s) for s in plan.hard] + [("easy", s) for s in plan.easy]
    for kind, seconds in jobs:
        src = source(seconds, kind)
        budget = BUDGET_PER_MINUTE * seconds // 60
        quiet = settle() if settle else {}
        cli_out = work / "cli.mp4"
        reps = plan.reps if (kind, seconds) == ("hard", 60) else plan.other_reps
        pair = _pair(
            [*me, str(src), str(work), str(budget), "video/mp4"],
            cli_reencode(src, cli_out, budget),
            cli_out,
            reps,
            f"re-encode {kind} {seconds} s",
        )
        res["reencode"][f"{kind}-{seconds}"] = {
            "kind": kind,
            "seconds": seconds,
            "source_bytes": src.stat().st_size,
            "budget": budget,
            "note": pair["router"]["samples"][0]["note"],
            **quiet,
            **pair,
        }
    for seconds in plan.remux:
        src = source(seconds, "hard", "mkv")
        quiet = settle() if settle else {}
        cli_out = work / "cli-remux.mp4"
        cli = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(src), "-map", "0:v:0", "-map", "0:a:0"]
        cli += ["-c", "copy", "-movflags", "+faststart", str(cli_out)]
        for _ in range(2):  # page cache warm for both
            src.read_bytes()
        pair = _pair(
            [*me, str(src), str(work), "-", "video/mp4"],
            cli,
            cli_out,
            plan.reps,
            f"remux {seconds} s",
        )
        res["remux"][str(seconds)] = {"seconds": seconds, "source_bytes": src.stat().st_size, **quiet, **pair}
    return res


def _ffmpeg_version() -> str:
    done = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True, check=False)
    return done.stdout.split("\n", 1)[0]


# -- goals and report -------------------------------------------------------------------------------------------


def goals(res: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows in bench/run.py's shape: goal, router, baseline, ratio, target, pass (None for info).

    Times compare the fit() call (what a running router pays) with the whole ffmpeg process; the router's
    whole-process time (starting Python, importing router and av) is in the tables and the JSON.
    """
    rows: list[dict[str, Any]] = []
    enc, rmx = res.get("reencode", {}), res.get("remux", {})
    if "hard-60" in enc:
        r, f = enc["hard-60"]["router"], enc["hard-60"]["ffmpeg"]
        rows.append(
            {
                "goal": "7. fit: re-encode 60 s 1080p to 18 MB, wall time",
                "router": f"{r['fit_s']:.2f} s ({r['seconds']:.2f} s process)",
                "baseline": f"{f['seconds']:.2f} s (ffmpeg)",
                "ratio": r["fit_s"] / f["seconds"],
                "target": "<= 1.1x",
                "pass": r["fit_s"] <= 1.1 * f["seconds"],
            }
        )
    if enc:
        shares = [s["size"] / v["budget"] for v in enc.values() for s in v["router"]["samples"]]
        cli = max(s["size"] / v["budget"] for v in enc.values() for s in v["ffmpeg"]["samples"])
        rows.append(
            {
                "goal": f"7. fit: output / budget, {len(enc)} sources, {len(shares)} runs",
                "router": f"{min(shares) * 100:.1f}-{max(shares) * 100:.1f} %",
                "baseline": f"max {cli * 100:.1f} % (ffmpeg)",
                "ratio": max(shares),
                "target": "90-100 %, never over",
                "pass": all(0.90 <= share <= 1.0 for share in shares),
            }
        )
        peak = max(v["router"]["peak_rss_bytes"] for v in enc.values())
        cli_peak = max(v["ffmpeg"]["peak_rss_bytes"] for v in enc.values())
        rows.append(
            {
                "goal": "7. fit: re-encode peak RSS (all sources)",
                "router": f"{peak / 2**20:.0f} MiB",
                "baseline": f"{cli_peak / 2**20:.0f} MiB (ffmpeg)",
                "ratio": peak / cli_peak,
                "target": "<= 250 MiB",
                "pass": peak <= 250 * 2**20,
            }
        )
        hard = sorted((v["seconds"], v["router"]["peak_rss_bytes"]) for v in enc.values() if v["kind"] == "hard")
        if len(hard) >= 2:
            rows.append(_flat("7. fit: re-encode RSS", hard))
    if "60" in rmx:
        r, f = rmx["60"]["router"], rmx["60"]["ffmpeg"]
        rows.append(
            {
                "goal": f"7. fit: remux mkv -> mp4, 60 s ({rmx['60']['source_bytes'] / MB:.0f} MB), wall time",
                "router": f"{r['fit_s']:.2f} s ({r['seconds']:.2f} s process)",
                "baseline": f"{f['seconds']:.2f} s (ffmpeg)",
                "ratio": r["fit_s"] / f["seconds"],
                "target": "<= 1.5x",
                "pass": r["fit_s"] <= 1.5 * f["seconds"],
            }
        )
    points = sorted((v["seconds"], v["router"]["peak_rss_bytes"]) for v in rmx.values())
    if len(points) >= 2:
        rows.append(_flat("7. fit: remux RSS", points))
    return rows


def _flat(label: str, points: list[tuple[int, int]]) -> dict[str, Any]:
    """Flat: the peak RSS at the longest input is within 10 % of the one at the shortest."""
    (short, low), (long_, high) = points[0], points[-1]
    growth = high / low
    return {
        "goal": f"{label} flat, {short} s -> {long_} s of input",
        "router": f"{low / 2**20:.0f} -> {high / 2**20:.0f} MiB",
        "baseline": f"{long_ / short:.0f}x the input",
        "ratio": growth,
        "target": "<= 1.10x",
        "pass": growth <= 1.10,
    }


def markdown(res: dict[str, Any]) -> str:
    lines = [
        "## Fitting video (`router[fit]`, PyAV) against the ffmpeg CLI",
        "",
        f"Baseline: {res['ffmpeg']} (Debian), with the settings router.fit chose, on the same sources, in the "
        "same run, taking turns. *fit()* is the call's own time (what a running router pays: probe, work, "
        "reading the result back); *process* adds starting Python and importing router and av. Peak RSS is "
        "each process's (both started from the same ~7 MiB wrapper); CPU is user + system time of the whole "
        "process, steadier than wall time on a shared machine. Sources: 1080p30 H.264 12 Mb/s + AAC "
        "128 kb/s; *hard* is testsrc2 under temporal noise, *easy* the same without it. Budget: 18 MB per "
        "60 s of video, so every length gets the same settings. Times are medians, sizes and RSS maxima.",
        "",
        "| re-encode | budget | fit() | process | ffmpeg | ratio | CPU, router / ffmpeg | output | ffmpeg output "
        "| RSS | ffmpeg RSS |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key, v in res["reencode"].items():
        r, f, b = v["router"], v["ffmpeg"], v["budget"]
        runs = len(r["samples"])
        lines.append(
            f"| {key} s, {v['source_bytes'] / MB:.0f} MB ({runs} run{'s' if runs > 1 else ''}) | {b / MB:.0f} MB | "
            f"{r['fit_s']:.1f} s | {r['seconds']:.1f} s | {f['seconds']:.1f} s | {r['fit_s'] / f['seconds']:.2f}x | "
            f"{r['cpu_s']:.1f} / {f['cpu_s']:.1f} s | {r['size'] / b * 100:.1f} % | {f['size'] / b * 100:.1f} % | "
            f"{r['peak_rss_bytes'] / 2**20:.0f} MiB | {f['peak_rss_bytes'] / 2**20:.0f} MiB |"
        )
    notes = sorted({v["note"].split(":")[0] for v in res["reencode"].values()})
    lines += ["", f"router.fit's choice: {'; '.join(notes)}."]
    lines += [
        "",
        "| remux mkv -> mp4 | fit() | process | ffmpeg | ratio | CPU, router / ffmpeg | RSS | ffmpeg RSS |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for key, v in res["remux"].items():
        r, f = v["router"], v["ffmpeg"]
        lines.append(
            f"| {key} s, {v['source_bytes'] / MB:.0f} MB | {r['fit_s']:.2f} s | {r['seconds']:.2f} s | "
            f"{f['seconds']:.2f} s | {r['fit_s'] / f['seconds']:.2f}x | {r['cpu_s']:.2f} / {f['cpu_s']:.2f} s | "
            f"{r['peak_rss_bytes'] / 2**20:.0f} MiB | "
            f"{f['peak_rss_bytes'] / 2**20:.0f} MiB |"
        )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["child"]:
        return child(args[1:])
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="30 and 60 s sources, one repetition")
    parser.add_argument("--out", default=str(CACHE / "fit-results.json"), help="where the JSON goes")
    opts = parser.parse_args(args)
    res = bench(opts.quick)
    rows = goals(res)
    for row in rows:
        verdict = "info" if row["pass"] is None else "PASS" if row["pass"] else "FAIL"
        print(f"{row['goal']}: {row['router']} vs {row['baseline']} ({row['ratio']:.3f}, {row['target']}) {verdict}")
    print(markdown(res))
    Path(opts.out).write_text(json.dumps(res, indent=2) + "\n")
    return 0 if all(r["pass"] is not False for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
