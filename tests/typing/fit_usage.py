"""Type-checked only (mypy --strict): router.fit as a caller writes it. Never executed by pytest."""

from __future__ import annotations

import tempfile
from pathlib import Path

import router
from router.fit import CannotFit, DamagedVideo, FitError, Fitted, FitUnavailable, Probe, Reason, fit, probe


def fit_usage(src: Path, budget: int, seconds: float | None) -> list[tuple[Path, str, str]]:
    info: Probe = probe(src)
    if not info.ok:
        damage: str | None = info.damage
        raise router.RouterError(f"{info.name}: {damage}")
    shares: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        try:
            parts: list[Fitted] = fit(
                src,
                budget=budget,
                max_duration=seconds,
                accepted=["video/mp4", "video/webm"],
                mode="split",
                max_parts=3,
                workdir=Path(tmp),
                progress=shares.append,
                probed=info,
            )
        except CannotFit as exc:
            reason: Reason = exc.reason
            raise router.RouterError(f"{exc.rule}: {reason}") from exc
        except DamagedVideo as exc:
            rule: str | None = exc.rule
            tried: tuple[str, ...] = exc.tried
            raise router.RouterError(f"{rule}: {exc} {tried}") from exc
        except FitUnavailable:
            return []
        except FitError:
            raise
        return [(p.path, p.mime, f"{p.action} {p.start:.1f}+{p.duration:.1f}s {p.size}B: {p.note}") for p in parts]
