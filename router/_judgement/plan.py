"""Route plan: which providers can take the request, and for each video part keep, inline or reject.

One judge (``_judge.Judge``) decides everything, before and after downloads: ``plan_route`` picks the
smallest rewrite from what the request says, and ``settle`` runs the same judge again with what the
downloaded bytes say (size, type, duration), narrowing the route to the providers that can still take it.

The plan prefers the smallest rewrite: providers that take the request as it is win over providers that
need downloads, and a part is inlined only when the chosen route needs it. Fallback models (``models``)
stay reachable: the route is every provider of any of the request's models that takes the rewritten body.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from .._base.kinds import Kind
from .._base.rules import Diagnostic, shorten
from .._model.media import canonical_mime, canonical_mimes
from .._table.capabilities import CapabilityTable
from .check import Checked, ModelRef
from .facts import PartFacts, accepted_types
from .judge import Downloaded, FitMode, Judge, Verdict, inlinable

__all__ = ["DEFAULT_INLINE_CAP", "FIT_SOURCE_CAP", "RoutePlan", "plan_route", "settle"]

Action = Literal["keep", "inline"]
# When no provider on the route documents a limit: Gemini's documented 100 MB inline request cap, as bytes
# of video once base64 is counted. Never a huge global number.
DEFAULT_INLINE_CAP = 75_000_000
FIT_SOURCE_CAP = 2_000_000_000  # the most router downloads of media it will fit to the route
# Kinds inlined whenever a provider on the route needs it, rather than narrowing the route to the providers that
# fetch the URL: their downloads are small, and a route kept wide is one OpenRouter can still fall back on.
# Video is the other way round: a download is costly, so a provider that fetches the URL itself is preferred.
EAGER: frozenset[Kind] = frozenset({"audio", "image", "file"})


@dataclass(slots=True)
class RoutePlan:
    providers: list[str] | None = None  # provider.only for the rewrite (None: leave routing alone)
    order: list[str] | None = None  # the caller's provider.order, less the providers off the route
    actions: dict[str, Action] = field(default_factory=dict)  # part pointer -> action
    caps: dict[str, int] = field(default_factory=dict)  # part pointer -> byte cap for the download
    diagnostics: list[Diagnostic] = field(default_factory=list)
    route: list[str] = field(default_factory=list)  # table slugs that take the rewritten request, preferred first
    # Write provider.only only when the route leaves out a provider the request could reach: a request without
    # video whose route nothing narrows goes with its routing as the caller wrote it.
    narrowing_only: bool = False
    fit: FitMode | None = None  # planned for a router that fits videos to the route
    names: dict[str, list[str]] = field(default_factory=dict)  # slug -> what provider.only calls it
    fallbacks: dict[str, list[str]] = field(default_factory=dict)  # fallback model pointer -> its candidates


@dataclass(slots=True)
class _Prefs:
    pinned: list[tuple[str, str]]  # --provider, as (name, slug)
    only: list[tuple[str, str]] | None  # provider.only (None: the key is absent)
    order: list[tuple[str, str]]
    ignore: set[str]
    strict_order: bool  # allow_fallbacks: false with an order
    spelling: dict[str, list[str]]  # slug -> the caller's names for it (region tags stay)


def _names(value: Any) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        return []
    return [v for v in value if isinstance(v, str)]


def _prefs(checked: Checked, table: CapabilityTable, pins: Sequence[str], diags: list[Diagnostic]) -> _Prefs:
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
    only = resolve(_names(prefs.get("only")), "/provider/only", "in provider.only") if "only" in prefs else None
    order = resolve(_names(prefs.get("order")), "/provider/order", "in provider.order")
    # Ignoring one endpoint (`google-vertex/us-east5`) leaves the provider's others: only bare names rule it out.
    ignore = {slug for name, slug in resolve(_names(prefs.get("ignore")), "/provider/ignore", "in provider.ignore")
              if not table.narrows(name)}  # fmt: skip
    # The names to send: the caller's own (a region tag narrows, and several tags of one provider all stay).
    spelling: dict[str, list[str]] = {}
    for name, slug in only or pinned:
        spelling.setdefault(slug, []).append(name)
    return _Prefs(pinned, only, order, ignore, prefs.get("allow_fallbacks") is False and bool(order), spelling)


def _candidates(
    ref: ModelRef | None, prefs: _Prefs, table: CapabilityTable, kinds: Sequence[Kind] = ()
) -> list[str] | None:
    """The providers that may serve one model after the preferences, preferred first (None: nothing known).

    Service tiers (``google-vertex/flex``) are their own keys, reached only when the request names them. A model
    that does not take a kind of media the request carries is served by nobody for it (``model-lacks-*`` says
    so); files are the exception, which OpenRouter's file-parser reads for any model.
    """
    mentioned = [slug for _, slug in (*prefs.pinned, *(prefs.only or []), *prefs.order)]
    model = ref.model if ref is not None else None
    if model is not None and not all(model.takes(k) for k in kinds if k != "file"):
        model = None
    served = list(table.served_by(model, mentioned))
    named = [s for _, s in prefs.pinned or prefs.only or []]
    if not served and not named:
        return None
    pool = served or list(dict.fromkeys(named))
    if prefs.pinned:
        pool = [p for p in pool if p in {s for _, s in prefs.pinned}]
    if prefs.only is not None:
        pool = [p for p in pool if p in {s for _, s in prefs.only}]
    pool = [p for p in pool if p not in prefs.ignore]
    preferred = list(dict.fromkeys(s for _, s in prefs.order))
    ranked = [p for p in preferred if p in pool] + [p for p in pool if p not in preferred]
    return [p for p in ranked if p in preferred] if prefs.strict_order else ranked


# -- the judge ------------------------------------------------------------------------------------------


# -- planning -------------------------------------------------------------------------------------------


def plan_route(
    checked: Checked, table: CapabilityTable, pins: Sequence[str] = (), fit: FitMode | None = None
) -> RoutePlan:
    """Pick the providers that can take the request and what each media part needs on the way.

    ``fit``: the router fits media to the route, so what fitting lifts (a format, a size, pixels, with trim or
    split a duration or pages) rules no provider out here; ``settle`` judges what the fitting made, strictly.
    """
    plan = RoutePlan(fit=fit)
    if not checked.parts:
        return plan
    prefs = _prefs(checked, table, pins, plan.diagnostics)
    parts = [f for f in checked.parts if f.sendable]
    primary = _candidates(checked.primary, prefs, table, checked.kinds)
    if primary is None:
        # No provider knowledge: send what is sendable as is, except private URLs nobody upstream can reach and
        # URLs OpenRouter takes from no provider (audio).
        for f in parts:
            fetched = f.kind == "video" or f.info.kind in table.rules(None, f.kind).url_kinds
            inline = f.private or (inlinable(f) and not fetched)
            plan.actions[f.part.pointer] = "inline" if inline else "keep"
            if inline:
                plan.caps[f.part.pointer] = DEFAULT_INLINE_CAP
            if inline and not f.private:
                plan.diagnostics.append(_inlining(f, "OpenRouter takes no audio URLs"))
        return plan
    where = checked.primary.pointer if checked.primary else "/model"
    if not primary:
        plan.diagnostics.append(Diagnostic("no-provider-accepts", _no_candidates(checked, pins), pointer=where))
        return plan
    judge = Judge(checked, table, parts, fit=fit)
    natural = {s: judge.natural(s) for s in primary}
    objections = {s: natural[s][1] or judge.objections(s, natural[s][0]) for s in primary}
    accepting = [s for s in primary if not objections[s]]
    if not accepting:
        plan.diagnostics += _rejection(judge, objections, where)
        return plan
    best = min(accepting, key=lambda s: len(natural[s][0]))  # min() keeps the first of equals: preference order
    kinds = {f.part.pointer: f.kind for f in parts}
    eager = {ptr for s in accepting for ptr in natural[s][0] if kinds[ptr] in EAGER}
    chosen = natural[best][0] | eager
    fallbacks = {ref.pointer: _candidates(ref, prefs, table, checked.kinds) or [] for ref in checked.models[1:]}
    extra = [s for cands in fallbacks.values() for s in cands if s not in primary]
    plan.names = {s: prefs.spelling.get(s, [s]) for s in dict.fromkeys(primary + extra)}
    plan.fallbacks = fallbacks
    plan.narrowing_only = "video" not in checked.kinds and not prefs.pinned
    route = [s for s in plan.names if not judge.objections(s, chosen)]
    if not route:  # the eager inlines cost every provider its route: inline only what the best one needs
        chosen = natural[best][0]
        route = [s for s in plan.names if not judge.objections(s, chosen)]
    for f in parts:
        plan.actions[f.part.pointer] = "inline" if f.part.pointer in chosen else "keep"
    _route(plan, judge, route)
    if prefs.order:
        plan.order = [name for name, slug in prefs.order if slug in plan.route]
    for f in parts:
        if f.part.pointer in chosen:
            request_caps = {s: table.providers[s].max_request_bytes for s in plan.route}
            caps = [
                judge.rules(s, f.kind).inline_cap(cap if isinstance(cap, int) else None) or DEFAULT_INLINE_CAP
                for s, cap in request_caps.items()
            ]
            # The largest limit on the route (settle() narrows it later); media router fits may be bigger.
            plan.caps[f.part.pointer] = FIT_SOURCE_CAP if fit else max(caps, default=DEFAULT_INLINE_CAP)
            needing = next((v for s in [best, *plan.route] if not (v := judge.keep(f, s)).ok), None)
            plan.diagnostics.append(_inlining(f, needing.reason if needing else "the route needs it inline"))
    return plan


def _inlining(f: PartFacts, reason: str) -> Diagnostic:
    audio = (
        "Nothing to do when sending through router; otherwise send bare base64 in `input_audio.data` with its `format`."
    )
    return Diagnostic(
        "url-needs-inline",
        f"{reason}: router will download {shorten(f.url)} and send it inline",
        pointer=f.part.url_pointer,
        fix=audio if f.kind == "audio" else None,
        kind=f.kind,
    )


def settle(
    plan: RoutePlan, checked: Checked, table: CapabilityTable, got: Mapping[str, Downloaded], dry_run: bool = False
) -> RoutePlan:
    """The plan again with what the downloads said: the route narrowed to the providers that can take the
    request as it will be sent, or a rejection with each provider's reason when none is left. A plan made to
    fit videos is always judged again: its route counted on fitting. ``dry_run``: URLs were not downloaded,
    and are judged as they were planned."""
    if not got and not plan.fit:
        return plan
    parts = [f for f in checked.parts if f.sendable]
    judge = Judge(checked, table, parts, got, unfetched=plan.fit if dry_run else None)
    settled = replace(plan, diagnostics=[d for d in plan.diagnostics if d.rule != "fallback-unusable"])
    if not plan.route:  # routing left alone: only OpenRouter's own lists apply
        for f in parts:
            if (d := got.get(f.part.pointer)) is None:
                continue
            listed = accepted_types(table, f.kind)
            shown = d.content.format if f.kind == "audio" and d.content is not None else d.mime
            names = frozenset(listed) if f.kind == "audio" else canonical_mimes(listed)
            if listed and shown and (shown if f.kind == "audio" else canonical_mime(shown)) not in names:
                settled.diagnostics.append(
                    Diagnostic(
                        "unsupported-format",
                        f"{shorten(f.url)} is {shown}; OpenRouter accepts {', '.join(listed)}",
                        pointer=f.part.url_pointer,
                        kind=f.kind,
                    )
                )
        return settled
    inline = {ptr for ptr, action in plan.actions.items() if action == "inline"}
    objections = {s: judge.objections(s, inline) for s in plan.route}
    keep = [s for s in plan.route if not objections[s]]
    if not keep:
        settled.diagnostics += _rejection(judge, objections, checked.primary.pointer if checked.primary else "/model")
        settled.route, settled.providers = [], None
        return settled
    _route(settled, judge, keep)
    if plan.order is not None:
        settled.order = [n for n in plan.order if table.provider_slug(n) in keep]
    return settled


def _route(plan: RoutePlan, judge: Judge, route: list[str]) -> None:
    """Set the route (every provider, of any of the request's models, that takes the body as rewritten) and
    the names for ``provider.only``, with a finding for each fallback model the route leaves without one."""
    plan.route = route
    plan.providers = list(dict.fromkeys(name for s in route for name in plan.names.get(s, [s])))
    if plan.narrowing_only and set(route) >= set(plan.names):
        plan.providers = None  # nothing narrowed: the caller's routing goes as written
    inline = {ptr for ptr, action in plan.actions.items() if action == "inline"}
    for ref in judge.checked.models[1:]:
        cands = plan.fallbacks.get(ref.pointer, [])
        if ref.model is None or not all(map(ref.model.takes, judge.checked.kinds)) or any(s in route for s in cands):
            continue
        reasons = {s: "; ".join(v.reason for _, v in judge.objections(s, inline)) for s in cands}
        why = "; ".join(f"{s}: {r}" for s, r in reasons.items()) or "the provider preferences leave it none"
        plan.diagnostics.append(
            Diagnostic(
                "fallback-unusable",
                f"fallback model {ref.id!r} cannot take the request as router sends it ({why})",
                pointer=ref.pointer,
                reasons=reasons,
            )
        )


def _no_candidates(checked: Checked, pins: Sequence[str]) -> str:
    served = ", ".join(checked.model.providers) if checked.model else "none known"
    asked = f" and --provider {', '.join(pins)}" if pins else ""
    return (
        f"no provider is left for model {checked.model_id!r} after the request's provider preferences{asked} "
        f"(it is served by: {served})"
    )


Objections = Mapping[str, list[tuple[PartFacts | None, Verdict]]]


def _rejection(judge: Judge, objections: Objections, where: str) -> list[Diagnostic]:
    """Name the part every provider refuses when there is one, the request-wide limit every provider refuses
    when that is it, and otherwise what each provider objects to. Each carries every provider's reason."""
    slugs = list(objections)
    reasons = {s: "; ".join(dict.fromkeys(v.reason for _, v in objs)) for s, objs in objections.items()}
    found: list[Diagnostic] = []
    for f in [*judge.parts, None]:
        refusals = {s: v for s in slugs for g, v in objections[s] if g is f}
        if len(refusals) < len(slugs):
            continue
        first = next(iter(refusals.values()))
        rule = "no-provider-accepts" if first.rule == "url-needs-inline" else first.rule
        said = "; ".join(dict.fromkeys(v.reason for v in refusals.values()))
        whole = "/input" if judge.checked.api == "responses" else "/messages"
        message, pointer = (f"{shorten(f.url)}: {said}", f.part.url_pointer) if f else (said, whole)
        by_fit = any(v.fit for v in refusals.values())  # one provider taking the fitted part is enough
        kinds = {f.kind} if f else {v.kind for v in refusals.values()}  # a request-wide limit on one kind names it
        found.append(
            Diagnostic(
                rule,
                message,
                pointer=pointer,
                reasons={s: v.reason for s, v in refusals.items()},
                fit=by_fit,
                kind=kinds.pop() if len(kinds) == 1 else None,
            )
        )
    if found:
        return found
    listed = "; ".join(f"{s}: {reasons[s]}" for s in slugs)
    # Every provider objects to something different, but all for one reason (each limit is too small): say so.
    rules = {v.rule for objs in objections.values() for _, v in objs}
    rule = rules.pop() if len(rules) == 1 else "no-provider-accepts"
    if rule == "url-needs-inline":
        rule = "no-provider-accepts"
    pointer = ("/input" if judge.checked.api == "responses" else "/messages") if rule == "too-large" else where
    by_fit = any(objs and all(v.fit for _, v in objs) for objs in objections.values())
    message = f"no provider can take this request: {listed}"
    return [Diagnostic(rule, message, pointer, reasons=reasons, fit=by_fit)]
