"""The one judge of the routing rules: can this provider take this video part, as written or inlined?

``plan_route`` asks it before any download, ``settle`` again with what the downloaded (or fitted) bytes said,
so there is one copy of the rules. A verdict says why not, and whether fitting the video would lift it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from .._model.media import canonical_mime
from .._table.capabilities import CapabilityTable, Provider
from .check import Checked, PartFacts

__all__ = ["Downloaded", "FitMode", "Judge", "Verdict", "keep_verdict"]

FitMode = Literal["fit", "trim", "split"]


@dataclass(frozen=True, slots=True)
class Downloaded:
    """What the bytes of a download (or of a video router fitted) said: facts a URL could not give.

    ``count`` videos of at most ``size`` bytes and ``duration`` seconds each, ``total`` bytes in all: a video
    ``split`` to fit the route is several.
    """

    size: int
    mime: str
    duration: float | None = None
    count: int = 1
    total: int | None = None

    @property
    def all_bytes(self) -> int:
        return self.total if self.total is not None else self.size


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    rule: str = ""
    reason: str = ""
    fit: bool = False  # fitting the video (re-encode, remux, trim) could lift this objection


OK = Verdict(True)


def inlinable(f: PartFacts) -> bool:
    return f.info.kind in ("http", "https")


def _data_limits(
    slug: str,
    p: Provider,
    table: CapabilityTable,
    mime: str | None,
    size: int | None,
    duration: float | None,
    fit: FitMode | None = None,
) -> Verdict:
    """What a provider says to an inline video of these facts. ``fit``: router will fit the video to the route
    (format and size can always be fitted; the duration only by trimming or splitting)."""
    mimes = {canonical_mime(m) for m in table.mime_types(slug)}
    if mime and canonical_mime(mime) not in mimes and not fit:
        return Verdict(False, "unsupported-format", f"{slug} does not accept {mime}", fit=True)
    if size is not None and isinstance(p.max_video_bytes, int) and size > p.max_video_bytes and not fit:
        return Verdict(
            False,
            "too-large",
            f"{slug} takes inline videos up to {p.max_video_bytes:,} bytes; this one is {size:,}",
            fit=True,
        )
    if isinstance(p.max_duration_s, int) and duration and duration > p.max_duration_s and fit in (None, "fit"):
        return Verdict(
            False,
            "too-large",
            f"{slug} takes videos up to {p.max_duration_s} s; this one runs {duration:.0f} s",
            fit=True,
        )
    return OK


def keep_verdict(f: PartFacts, slug: str, p: Provider, table: CapabilityTable, fit: FitMode | None = None) -> Verdict:
    """Can ``slug`` take the part as it is written (or, with ``fit``, once router fitted it)?"""
    kind = f.info.kind
    if kind == "data":
        if not p.data_urls:
            why = f" ({p.unknown['data_urls']})" if "data_urls" in p.unknown else ""
            return Verdict(False, "url-not-accepted", f"{slug} takes no data URLs{why}")
        return _data_limits(slug, p, table, f.mime, f.size, f.duration, fit)
    if kind in p.url_kinds and not f.private:
        if f.mime and canonical_mime(f.mime) not in {canonical_mime(m) for m in table.mime_types(slug)}:
            # The provider fetches it itself, as its extension says it is: router can only help by inlining.
            return Verdict(False, "unsupported-format", f"{slug} does not accept {f.mime} (from its extension)", True)
        return OK
    if f.private:
        return Verdict(False, "url-needs-inline", f"{slug} cannot reach a private address")
    if kind == "youtube":
        return Verdict(
            False,
            "url-not-accepted",
            f"{slug} takes no YouTube links, and a YouTube page cannot be downloaded and inlined",
        )
    if inlinable(f):
        if not p.documented:
            return Verdict(False, "url-needs-inline", f"{slug} has no rules in the table, so router inlines")
        return Verdict(False, "url-needs-inline", f"{slug} takes no {kind} video URLs")
    return Verdict(False, "url-not-accepted", f"{slug} takes no {kind}:// URLs, and router cannot download them")


def _inline(
    f: PartFacts,
    slug: str,
    p: Provider,
    table: CapabilityTable,
    got: Downloaded | None = None,
    fit: FitMode | None = None,
) -> Verdict:
    """Can ``slug`` take the part once router sends it as a data URL (downloaded, or fitted: ``got``)?"""
    if not inlinable(f) and got is None:
        return keep_verdict(f, slug, p, table, fit)
    if not p.data_urls:
        why = f" ({p.unknown['data_urls']})" if "data_urls" in p.unknown else ""
        takes = "data URLs" if f.info.kind in p.url_kinds else f"{f.info.kind} video URLs or data URLs"
        return Verdict(False, "url-not-accepted", f"{slug} takes no {takes}{why}")
    if got is None:
        return _data_limits(slug, p, table, f.mime, None, None, fit)
    return _data_limits(slug, p, table, got.mime, got.size, got.duration, fit)


def _encoded(size: int) -> int:
    return -(-size // 3) * 4


def _whole(
    parts: Sequence[PartFacts],
    inline: set[str],
    slug: str,
    p: Provider,
    got: Mapping[str, Downloaded],
    fit: FitMode | None = None,
) -> Verdict:
    """The request-level limits: how many videos, and the base64 they add up to (which fitting can shrink)."""
    sent = {f.part.pointer: got[f.part.pointer] for f in parts if f.part.pointer in inline and f.part.pointer in got}
    count = sum(sent[f.part.pointer].count if f.part.pointer in sent else 1 for f in parts)
    if isinstance(p.max_videos, int) and count > p.max_videos:
        return Verdict(
            False,
            "too-large",
            f"{slug} takes at most {p.max_videos} video{'s' * (p.max_videos != 1)} per request; this one has {count}",
        )
    encoded = sum(f.data.encoded_size for f in parts if f.data and f.part.pointer not in sent)
    encoded += sum(_encoded(d.all_bytes) for d in sent.values())
    if isinstance(p.max_request_bytes, int) and encoded > p.max_request_bytes and not fit:
        return Verdict(
            False,
            "too-large",
            f"{slug} takes requests up to {p.max_request_bytes:,} bytes; the videos alone come to {encoded:,} "
            "bytes of base64",
            fit=True,
        )
    return OK


@dataclass(slots=True)
class Judge:
    checked: Checked
    table: CapabilityTable
    parts: list[PartFacts]
    got: Mapping[str, Downloaded] = field(default_factory=dict)
    fit: FitMode | None = None  # planning for a router that fits videos: what fitting lifts is no objection
    unfetched: FitMode | None = None  # a dry run of such a router: lenient for the URLs it did not download

    def _fit(self, f: PartFacts) -> FitMode | None:
        return self.fit or (self.unfetched if inlinable(f) and f.part.pointer not in self.got else None)

    def natural(self, slug: str) -> tuple[set[str], list[tuple[PartFacts | None, Verdict]]]:
        """The parts ``slug`` needs inlined to take the request, and the parts it refuses either way."""
        p = self.table.providers[slug]
        inline: set[str] = set()
        refused: list[tuple[PartFacts | None, Verdict]] = []
        for f in self.parts:
            if (v := keep_verdict(f, slug, p, self.table, self._fit(f))).ok:
                continue
            if not inlinable(f):
                refused.append((f, v))
            elif (w := _inline(f, slug, p, self.table, self.got.get(f.part.pointer), self._fit(f))).ok:
                inline.add(f.part.pointer)
            elif v.rule == "url-needs-inline":
                refused.append((f, w))  # why inlining fails is the news
            else:  # refused as written, and inlining (the only way to fit it) cannot help
                refused.append((f, replace(v, fit=False)))
        return inline, refused

    def objections(self, slug: str, inline: set[str]) -> list[tuple[PartFacts | None, Verdict]]:
        """Why ``slug`` cannot take the request with exactly the parts in ``inline`` inlined (empty: it can)."""
        p = self.table.providers[slug]
        found: list[tuple[PartFacts | None, Verdict]] = []
        for f in self.parts:
            ptr = f.part.pointer
            got = self.got.get(ptr)
            if ptr in inline:
                v = _inline(f, slug, p, self.table, got, self._fit(f))
            else:
                v = keep_verdict(f, slug, p, self.table, self._fit(f))
            if not v.ok:
                found.append((f, v))
        if not (w := _whole(self.parts, inline, slug, p, self.got, self.fit)).ok:
            found.append((None, w))
        return found
