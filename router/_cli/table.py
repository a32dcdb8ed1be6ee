"""The commands that show the capability table: ``router models`` (and ``--refresh``, which reads OpenRouter's
current catalogue) and ``router providers``."""

from __future__ import annotations

import argparse
import sys
from typing import IO

from .._table.rules import Rules
from .common import UsageError, base_url_of, router_for

__all__ = ["cmd_models", "cmd_providers"]


def _limit(value: object, unit: str = "") -> str:
    if isinstance(value, int) and unit == "B":
        return f"{value / 1e6:g} MB"
    return f"{value}{' ' + unit if unit and isinstance(value, int) else ''}"


def _refresh(args: argparse.Namespace, out: IO[str]) -> int:
    from .._table.refresh import refresh  # deferred: needs the HTTP client
    from .._table.remote import RefreshError, RefreshRefused
    from .progress import CountBar

    with CountBar(sys.stderr, "endpoints") as bar:
        try:
            result = refresh(base_url_of(args), paths=args.capabilities, progress=bar.update, force=args.force)
        except RefreshRefused as exc:
            bar.stop()
            force = " (`router models --refresh --force` takes it anyway)" if exc.forceable else ""
            sys.stderr.write(f"router: error: {exc}; nothing was changed{force}\n")
            return 1
        except RefreshError as exc:
            bar.stop()
            sys.stderr.write(f"router: error: cannot refresh the catalogue: {exc}; nothing was changed\n")
            return 1
    out.write(result.summary + "\n")
    return 0


def cmd_models(args: argparse.Namespace, out: IO[str]) -> int:
    if args.refresh:
        return _refresh(args, out)
    if args.force:
        raise UsageError("--force goes with --refresh: it takes a refreshed catalogue that looks wrong")
    table = router_for(args).table
    rows = [(mid, m) for mid, m in sorted(table.models.items()) if not args.modality or args.modality in m.input]
    width = max((len(mid) for mid, _ in rows), default=10)
    for mid, m in rows:
        note = "" if "text" in m.output else f"  (generates {'+'.join(m.output)}; cannot answer in text)"
        served = f"  providers: {', '.join(m.providers)}" if m.providers else ""
        tiers = f"  tiers: {', '.join(m.tiers)}" if m.tiers else ""
        out.write(f"{mid:<{width}}  in: {'+'.join(m.input)}  out: {'+'.join(m.output)}{served}{tiers}{note}\n")
    out.write(f"{len(rows)} model{'s' * (len(rows) != 1)}\n")
    if table.snapshot is not None:
        out.write(f"data: {table.snapshot.describe()}\n")
        if table.snapshot.fetched_at is None:
            out.write("`router models --refresh` reads OpenRouter's current catalogue.\n")
    return 0


def cmd_providers(args: argparse.Namespace, out: IO[str]) -> int:
    table = router_for(args).table
    for slug, p in table.providers.items():
        if "/" in slug and slug.split("/", 1)[0] in table.providers:
            continue  # a service tier: shown under its provider
        urls = ", ".join(p.url_kinds) or "none (router inlines https URLs)"
        data = "yes" if p.data_urls else "no"
        if "data_urls" in p.unknown:
            data = f"unknown, so router sends none ({p.unknown['data_urls']})"
        out.write(f"{slug} ({p.name})\n")
        if not p.documented:
            out.write("  no rules in the table: every video is inlined, no limit assumed\n")
        out.write(f"  video URLs: {urls}; data URLs: {data}\n")
        out.write(f"  formats: {', '.join(table.mime_types(slug))}\n")
        out.write(
            f"  limits: video {_limit(p.max_video_bytes, 'B')}, request {_limit(p.max_request_bytes, 'B')}, "
            f"videos {_limit(p.max_videos)}, duration {_limit(p.max_duration_s, 's')}\n"
        )
        for kind in ("image", "audio", "file"):
            if getattr(p, kind) is not None:
                out.write(_kind_line(table.rules(slug, kind), getattr(p, kind).source or p.source))
        tiers = [k.split("/", 1)[1] for k in table.providers if k.startswith(slug + "/")]
        if tiers:
            out.write(f"  service tiers (opt-in, same rules): {', '.join(f'{slug}/{t}' for t in tiers)}\n")
        out.write(f"  source: {p.source}\n")
        for field, url in p.sources.items():
            out.write(f"    {field}: {url}\n")
        for field, why in p.unknown.items():
            if field != "data_urls":
                out.write(f"  {field}: unknown ({why})\n")
        if p.notes:
            out.write(f"  notes: {p.notes.strip()}\n")
    return 0


def _kind_line(rules: Rules, source: str) -> str:
    """One line of what a provider takes of a kind of media, as resolved over OpenRouter's own rules."""
    urls = ", ".join(rules.url_kinds) or "none (router inlines them)"
    limits = [
        f"{label} {value:,}{unit}"
        for label, value, unit in (
            ("bytes", rules.max_bytes, " B"),
            ("base64", rules.max_base64_bytes, " B"),
            ("all together", rules.max_total_bytes, " B"),
            ("side", rules.max_side, " px"),
            (f"side past {rules.many_over}", rules.max_side_many, " px"),
            ("pages", rules.max_pages, ""),
            ("duration", rules.max_duration_s, " s"),
            ("per request", rules.max_count, ""),
        )
        if value is not None
    ]
    formats = ", ".join(rules.formats) or "any"
    return (
        f"  {rules.kind}: URLs {urls}; formats {formats}; limits: {', '.join(limits) or 'unknown'}; source: {source}\n"
    )
