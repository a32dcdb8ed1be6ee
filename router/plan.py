"""Route plan: which providers can take the request, and for each video part keep, inline or reject.

The plan prefers the smallest rewrite: providers that take the request as it is win over providers that
need downloads, and a part is inlined only when the chosen route needs it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .capabilities import CapabilityTable, Provider
from .check import Checked, PartFacts
from .media import canonical_mime
from .rules import Diagnostic, shorten

__all__ = ["DEFAULT_INLINE_CAP", "RoutePlan", "plan_route"]

Action = Literal["keep", "inline"]
# When no provider on the route documents a limit: Gemini's documented 100 MB inline request cap, as bytes
# of video once base64 is counted. Never a huge global number.
DEFAULT_INLINE_CAP = 75_000_000


@dataclass(frozen=True, slots=True)
class _Verdict:
    action: Action | None  # None: rejected
    rule: str = ""
    reason: str = ""


@dataclass(slots=True)
class RoutePlan:
    providers: list[str] | None = None  # provider.only for the rewrite (None: leave routing alone)
    order: list[str] | None = None  # the caller's provider.order, less the providers off the route
    actions: dict[str, Action] = field(default_factory=dict)  # part pointer -> action
    caps: dict[str, int] = field(default_factory=dict)  # part pointer -> byte cap for the download
    diagnostics: list[Diagnostic] = field(default_factory=list)


@dataclass(slots=True)
class _Candidates:
    slugs: list[str]  # table slugs, preference order
    spelling: dict[str, list[str]]  # slug -> the caller's names for it in provider.only / --provider (tags stay)
    order: list[tuple[str, str]]  # the caller's provider.order as (name, slug)
    routed: bool  # False: nothing is known about providers, leave routing alone


def _names(value: Any) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        return []
    return [v for v in value if isinstance(v, str)]


def _candidates(checked: Checked, table: CapabilityTable, pins: Sequence[str], diags: list[Diagnostic]) -> _Candidates:
    def resolve(names: list[str], pointer: str, where: str) -> list[tuple[str, str]]:
        out = []
        for i, name in enumerate(names):
            slug = table.provider_slug(name)
            if slug is None:
                diags.append(
                    Diagnostic(
                        "unknown-provider",
                        f"provider {name!r} ({where}) is not in the capability table",
                        pointer=f"{pointer}/{i}" if pointer else "",
                    )
                )
                continue
            out.append((name, slug))
        return out

    request = checked.request or {}
    prefs = request.get("provider") if isinstance(request.get("provider"), Mapping) else {}
    assert isinstance(prefs, Mapping)
    pinned = resolve(list(pins), "", "named on the command line")
    only = resolve(_names(prefs.get("only")), "/provider/only", "in provider.only")
    order = resolve(_names(prefs.get("order")), "/provider/order", "in provider.order")
    # Ignoring one endpoint (`google-vertex/us-east5`) leaves the provider's others: only bare names rule it out.
    ignore = {slug for name, slug in resolve(_names(prefs.get("ignore")), "/provider/ignore", "in provider.ignore")
              if "/" not in name}  # fmt: skip
    # The names to send: the caller's own (a region tag narrows, and several tags of one provider all stay).
    spelling: dict[str, list[str]] = {}
    for name, slug in only or pinned:
        spelling.setdefault(slug, []).append(name)
    served = list(checked.model.providers) if checked.model else []
    if not served and not pinned and not only:
        return _Candidates([], spelling, order, routed=False)
    pool = served or list(dict.fromkeys(s for _, s in pinned or only))
    if pins:
        pool = [p for p in pool if p in {s for _, s in pinned}]
    if "only" in prefs:
        pool = [p for p in pool if p in {s for _, s in only}]
    pool = [p for p in pool if p not in ignore]
    preferred = list(dict.fromkeys(s for _, s in order))
    ranked = [p for p in preferred if p in pool] + [p for p in pool if p not in preferred]
    if prefs.get("allow_fallbacks") is False and order:
        ranked = [p for p in ranked if p in preferred]
    return _Candidates(ranked, spelling, order, routed=True)


def _judge(facts: PartFacts, slug: str, p: Provider, table: CapabilityTable) -> _Verdict:
    kind = facts.info.kind
    if kind == "data" or facts.private or (kind in ("http", "https") and kind not in p.url_kinds):
        if not p.data_urls:
            what = "data URLs" if kind == "data" else f"{kind} video URLs or data URLs"
            return _Verdict(None, "url-not-accepted", f"{slug} takes no {what}")
        mimes = {canonical_mime(m) for m in table.mime_types(slug)}
        if facts.mime and canonical_mime(facts.mime) not in mimes:
            return _Verdict(None, "unsupported-format", f"{slug} does not accept {facts.mime}")
        if facts.size is not None and isinstance(p.max_video_bytes, int) and facts.size > p.max_video_bytes:
            return _Verdict(
                None,
                "too-large",
                f"{slug} takes inline videos up to {p.max_video_bytes:,} bytes; this one is {facts.size:,}",
            )
        if isinstance(p.max_duration_s, int) and facts.duration and facts.duration > p.max_duration_s:
            return _Verdict(
                None,
                "too-large",
                f"{slug} takes videos up to {p.max_duration_s} s; this one runs {facts.duration:.0f} s",
            )
        if kind == "data":
            return _Verdict("keep")
        why = "a private address it cannot reach" if facts.private else f"no {kind} video URLs"
        return _Verdict("inline", "url-needs-inline", f"{slug} takes {why}")
    if kind in p.url_kinds:
        return _Verdict("keep")
    if kind == "youtube":
        return _Verdict(
            None,
            "url-not-accepted",
            f"{slug} takes no YouTube links, and a YouTube page cannot be downloaded and inlined",
        )
    return _Verdict(None, "url-not-accepted", f"{slug} takes no {kind}:// URLs, and router cannot download them")


def _request_limits(parts: list[PartFacts], slug: str, p: Provider) -> _Verdict | None:
    if isinstance(p.max_videos, int) and len(parts) > p.max_videos:
        return _Verdict(
            None,
            "too-large",
            f"{slug} takes at most {p.max_videos} video{'s' * (p.max_videos != 1)} per request; "
            f"this one has {len(parts)}",
        )
    encoded = sum(len(f.data.payload) for f in parts if f.data)
    if isinstance(p.max_request_bytes, int) and encoded > p.max_request_bytes:
        return _Verdict(
            None,
            "too-large",
            f"{slug} takes requests up to {p.max_request_bytes:,} bytes; the inline "
            f"videos alone are {encoded:,} bytes of base64",
        )
    return None


def plan_route(checked: Checked, table: CapabilityTable, pins: Sequence[str] = ()) -> RoutePlan:
    """Pick the providers that can take the request and what each video part needs on the way."""
    plan = RoutePlan()
    cands = _candidates(checked, table, pins, plan.diagnostics)
    parts = [f for f in checked.parts if f.sendable]
    if not checked.parts:
        return plan
    if not cands.routed:
        # No provider knowledge: send what is sendable as is, except private URLs nobody upstream can reach.
        for f in parts:
            plan.actions[f.part.pointer] = "inline" if f.private else "keep"
            if f.private:
                plan.caps[f.part.pointer] = DEFAULT_INLINE_CAP
        return plan
    if not cands.slugs:
        plan.diagnostics.append(Diagnostic("no-provider-accepts", _no_candidates(checked, pins), pointer="/model"))
        return plan

    verdicts = {s: {f.part.pointer: _judge(f, s, table.providers[s], table) for f in parts} for s in cands.slugs}
    whole = {s: _request_limits(parts, s, table.providers[s]) for s in cands.slugs}
    accepting = [s for s in cands.slugs if whole[s] is None and all(v.action for v in verdicts[s].values())]
    if not accepting:
        _explain_rejection(plan, parts, cands.slugs, verdicts, whole)
        return plan

    def inlined(s: str) -> set[str]:
        return {ptr for ptr, v in verdicts[s].items() if v.action == "inline"}

    best = min(accepting, key=lambda s: len(inlined(s)))  # min() keeps the first of equals: preference order
    chosen = inlined(best)
    route = [s for s in accepting if inlined(s) == chosen or (inlined(s) < chosen and table.providers[s].data_urls)]
    plan.providers = list(dict.fromkeys(name for s in route for name in cands.spelling.get(s, [s])))
    if cands.order:
        plan.order = [name for name, slug in cands.order if slug in route]
    for f in parts:
        ptr = f.part.pointer
        plan.actions[ptr] = "inline" if ptr in chosen else "keep"
        if ptr in chosen:
            caps = [c for s in route if (c := table.providers[s].inline_cap()) is not None]
            plan.caps[ptr] = min(caps) if caps else DEFAULT_INLINE_CAP
            reason = verdicts[best][ptr].reason
            plan.diagnostics.append(
                Diagnostic(
                    "url-needs-inline",
                    f"{reason}: router will download {shorten(f.part.url or '')} and send it inline",
                    pointer=f.part.url_pointer,
                )
            )
    return plan


def _no_candidates(checked: Checked, pins: Sequence[str]) -> str:
    served = ", ".join(checked.model.providers) if checked.model else "none known"
    asked = f" and --provider {', '.join(pins)}" if pins else ""
    return (
        f"no provider is left for model {checked.model_id!r} after the request's provider preferences{asked} "
        f"(it is served by: {served})"
    )


def _explain_rejection(
    plan: RoutePlan,
    parts: list[PartFacts],
    slugs: list[str],
    verdicts: dict[str, dict[str, _Verdict]],
    whole: dict[str, _Verdict | None],
) -> None:
    """Name the part every provider refuses when there is one; otherwise say what each provider objects to."""
    explained = False
    for f in parts:
        refusals = [verdicts[s][f.part.pointer] for s in slugs if verdicts[s][f.part.pointer].action is None]
        if len(refusals) == len(slugs):
            reasons = "; ".join(dict.fromkeys(v.reason for v in refusals))
            plan.diagnostics.append(
                Diagnostic(refusals[0].rule, f"{shorten(f.part.url or '')}: {reasons}", pointer=f.part.url_pointer)
            )
            explained = True
    limits = [v for s in slugs if (v := whole[s]) is not None]
    if len(limits) == len(slugs):
        plan.diagnostics.append(Diagnostic(limits[0].rule, "; ".join(v.reason for v in limits), pointer="/messages"))
        explained = True
    if not explained:
        objections = []
        for s in slugs:
            bad = [v.reason for v in verdicts[s].values() if v.action is None]
            if (w := whole[s]) is not None:
                bad.append(w.reason)
            objections.append(f"{s}: {bad[0]}" if bad else s)
        plan.diagnostics.append(
            Diagnostic(
                "no-provider-accepts", "no provider can take this request: " + "; ".join(objections), pointer="/model"
            )
        )
