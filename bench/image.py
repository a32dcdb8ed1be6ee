"""router's ``fit_image`` against Pillow's own ``Image.thumbnail`` on the same 24 MP photo, measured in the same run.

    python bench/image.py            # 7 rounds of each, both ways (~1 min)
    python bench/image.py --reps 3   # quicker

The source is a 6000x4000 JPEG (quality 90) of a gradient under grain, made at bench time with Pillow and cached
in bench/.cache. It is measured two ways:

- **warm** (the goal): one process that has imported router and Pillow and done each job once runs them in turns
  (A B, then B A), ``2 * reps + 1`` rounds: the time of each job from open to saved file, and its peak memory
  (``VmHWM`` reset through ``/proc/self/clear_refs`` after ``malloc_trim``, minus the resident set at that
  moment). A running router pays this per image; ``import router`` is paid once and measured by run.py.
- **fresh**: each job in a fresh child process (bench/fit.py's wrapper: wall time from start to exit, peak RSS
  from ``wait4``), the two sides taking turns; the child also reports the time of the work alone.

- **fit**: ``fit_image(src, accepted=[jpeg, png, webp, gif], max_bytes=3_750_000, max_side=2000)``: header and
  damage check, decode (JPEG draft when it helps), Lanczos downscale to 2000x1333, JPEG quality 90 under the cap.
- **thumbnail**: ``Image.open(src)``, ``thumbnail((2000, 2000))`` (its default bicubic, reducing_gap 2), ``save``
  as JPEG quality 90: the floor for the same job.

Goal: fit's median time in the warm process at most 1.5x thumbnail's. A third fresh child only imports
``router._fit.image`` (which imports the ``router`` package, its pipeline included): the fixed cost the fit child
pays before any work, printed as ``import_router``. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import importlib
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from fit import CACHE, PY, log, measure  # noqa: E402  (bench/ is not a package: its modules are scripts)

SIZE = (6000, 4000)
MAX_BYTES, MAX_SIDE = 3_750_000, 2000
GOAL = 1.5
ACCEPTED = ["image/jpeg", "image/png", "image/webp", "image/gif"]


def source() -> Path:
    """The 24 MP photo-like JPEG, made once."""
    path = CACHE / "photo-6000x4000.jpg"
    if not path.exists():
        from PIL import Image

        CACHE.mkdir(parents=True, exist_ok=True)
        ramp = Image.linear_gradient("L").resize(SIZE)
        across = Image.linear_gradient("L").rotate(90).resize(SIZE)
        bands = [Image.blend(band, Image.effect_noise(SIZE, 25), 0.3) for band in (ramp, across, ramp)]
        Image.merge("RGB", bands).save(path, quality=90)
        log(f"made {path.name}: {path.stat().st_size / 1e6:.1f} MB")
    return path


def fit_job(src: Path, out_dir: Path) -> tuple[Path, str]:
    """router's way: the file made, and its note."""
    from router._fit.image import fit_image

    fitted = fit_image(src, accepted=ACCEPTED, max_bytes=MAX_BYTES, max_side=MAX_SIDE, max_pixels=None, workdir=out_dir)
    return fitted.path, fitted.note


def thumbnail_job(src: Path, out_dir: Path) -> tuple[Path, str]:
    """Pillow's own way, the floor: open, ``thumbnail`` (bicubic, reducing_gap 2), save."""
    from PIL import Image

    path = out_dir / "thumbnail.jpg"
    with Image.open(src) as img:
        img.thumbnail((MAX_SIDE, MAX_SIDE))
        img.save(path, "JPEG", quality=90)
    return path, "Image.thumbnail + save"


JOBS = {"fit": fit_job, "thumbnail": thumbnail_job}


def warm(src: Path, out_dir: Path, rounds: int) -> dict[str, Any]:
    """Both jobs in this process, taking turns after a first run of each: seconds and peak growth per round."""
    import ctypes

    from inline import reset_peak, status_kb  # bench/inline.py: VmHWM reset and read

    trim = ctypes.CDLL("libc.so.6").malloc_trim
    for job in JOBS.values():
        job(src, out_dir)[0].unlink()
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in JOBS}
    for number in range(rounds):
        for name in JOBS if number % 2 == 0 else reversed(JOBS):
            trim(0)  # freed pages go back: the next peak counts what this job holds, not the last one's leftovers
            reset_peak()
            before = status_kb("VmRSS")
            started = time.perf_counter()
            path, _ = JOBS[name](src, out_dir)
            seconds = time.perf_counter() - started
            runs[name].append({"seconds": seconds, "growth_bytes": (status_kb("VmHWM") - before) * 1024})
            path.unlink()
    return {
        name: {
            "seconds": statistics.median(r["seconds"] for r in rs),
            "growth_mb": statistics.median(r["growth_bytes"] for r in rs) / 2**20,
            "samples": rs,
        }
        for name, rs in runs.items()
    }


def child(argv: Sequence[str]) -> int:
    """``child fit|thumbnail|import SRC OUT_DIR``: do the job once and print what it made as JSON (``import``:
    only ``import router._fit.image``, the fixed cost of the fit child's interpreter). ``child warm SRC OUT_DIR
    ROUNDS``: both jobs in turns in this one process (:func:`warm`)."""
    which, src, out_dir = argv[0], Path(argv[1]), Path(argv[2])
    if which == "warm":
        print(json.dumps(warm(src, out_dir, int(argv[3]))))
        return 0
    if which == "import":
        import router._fit.image  # noqa: F401

        print(json.dumps({"work_s": 0.0, "bytes": 0, "size": None, "note": "import router._fit.image"}))
        return 0
    for module in ("router._fit.image", "PIL.Image") if which == "fit" else ("PIL.Image",):
        importlib.import_module(module)  # the work is timed from here
    started = time.perf_counter()
    path, note = JOBS[which](src, out_dir)
    work = time.perf_counter() - started
    from PIL import Image

    with Image.open(path) as made:
        size = made.size
    print(json.dumps({"work_s": work, "bytes": path.stat().st_size, "size": size, "note": note}))
    path.unlink()
    return 0


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "wall_s": statistics.median(r["seconds"] for r in runs),
        "work_s": statistics.median(r["work_s"] for r in runs),
        "peak_rss_mb": statistics.median(r["peak_rss_bytes"] for r in runs) / 2**20,
        "output_bytes": runs[0]["bytes"],
        "output_size": runs[0]["size"],
        "note": runs[0]["note"],
        "runs": len(runs),
    }


def bench(reps: int) -> dict[str, Any]:
    src = source()
    runs: dict[str, list[dict[str, Any]]] = {"fit": [], "thumbnail": [], "import": []}
    with tempfile.TemporaryDirectory() as out:
        hot = measure([PY, str(Path(__file__).resolve()), "child", "warm", str(src), out, str(2 * reps + 1)])
        log(f"warm: fit {hot['fit']['seconds']:.3f} s, thumbnail {hot['thumbnail']['seconds']:.3f} s (medians)")
        for i in range(reps):
            order = ["fit", "thumbnail", "import"] if i % 2 == 0 else ["import", "thumbnail", "fit"]
            for which in order:
                runs[which].append(measure([PY, str(Path(__file__).resolve()), "child", which, str(src), out]))
            fit_s, thumb_s = runs["fit"][-1]["seconds"], runs["thumbnail"][-1]["seconds"]
            log(f"round {i + 1}/{reps}: fit {fit_s:.2f} s, thumbnail {thumb_s:.2f} s")
    fit, thumb, imports = _summary(runs["fit"]), _summary(runs["thumbnail"]), _summary(runs["import"])
    ratio = hot["fit"]["seconds"] / hot["thumbnail"]["seconds"]
    return {
        "source": {"size": SIZE, "bytes": src.stat().st_size},
        "limits": {"max_bytes": MAX_BYTES, "max_side": MAX_SIDE},
        "warm": {name: hot[name] for name in JOBS},
        "warm_process_peak_rss_mb": hot["peak_rss_bytes"] / 2**20,
        "fit": fit,
        "thumbnail": thumb,
        "import_router": {"wall_s": imports["wall_s"], "peak_rss_mb": imports["peak_rss_mb"]},
        "ratio": ratio,
        "wall_ratio": fit["wall_s"] / thumb["wall_s"],
        "work_ratio": fit["work_s"] / thumb["work_s"],
        "rss_ratio": fit["peak_rss_mb"] / thumb["peak_rss_mb"],
        "goal": f"fit time in a warm process <= {GOAL}x thumbnail's",
        "pass": ratio <= GOAL,
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["child"]:
        return child(args[1:])
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=7, help="rounds of each side (default 7)")
    res = bench(parser.parse_args(args).reps)
    print(json.dumps(res, indent=2))
    return 0 if res["pass"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
