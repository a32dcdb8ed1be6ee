"""The one judge of the routing rules: can this provider take this media part, as written or inlined?

``plan_route`` asks it before any download, ``settle`` again with what the downloaded (or fitted) bytes said,
so there is one copy of the rules. A verdict says why not, and whether fitting the media would lift it. The rules
come from the table per provider, kind and model (``CapabilityTable.rules``): video, audio, images and files are
judged by the same steps, each against its own limits (bytes, base64, pixels, pages, duration, count).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from .._base.kinds import Kind
from .._model.content import Content
from .._model.media import canonical_mime, canonical_mimes
from .._table.capabilities import CapabilityTable
from .._table.rules import Rules
from .check import Checked
from .facts import PartFacts

__all__ = ["Downloaded", "FitMode", "Judge", "Verdict", "fits"]

FitMode = Literal["fit", "trim", "split"]
_PLURAL = {"video": "videos", "audio": "audio files", "image": "images", "file": "files"}


@dataclass(frozen=True, slots=True)
class Downloaded:
    """What the bytes of a download (or of media router fitted) said: facts a URL could not give.

    ``count`` files of at most ``size`` bytes and ``duration`` seconds each, ``total`` bytes in all: media
    ``split`` to fit the route is several. ``content`` holds the rest (pixels, pages, an audio format).
    """

    size: int
    mime: str
    duration: float | None = None
    count: int = 1
    total: int | None = None
    content: Content | None = None

    @property
    def all_bytes(self) -> int:
        return self.total if self.total is not None else self.size


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    rule: str = ""
    reason: str = ""
    fit: bool = False  # fitting the media (re-encode, remux, convert, downscale, trim, split) could lift this
    kind: Kind | None = None  # a request-wide limit on one kind of media (a count, a total, many images' pixels)


OK = Verdict(True)


@dataclass(frozen=True, slots=True)
class _Sent:
    """What goes inline for one part: its bytes' facts, from the request or from a download."""

    mime: str | None
    size: int | None
    duration: float | None = None
    content: Content | None = None

    @property
    def side(self) -> int | None:
        return self.content.side if self.content is not None else None

    @property
    def pages(self) -> int | None:
        return self.content.pages if self.content is not None else None

    @property
    def format(self) -> str | None:
        return self.content.format if self.content is not None else None

    @property
    def encrypted(self) -> bool:
        return self.content is not None and self.content.encrypted


def inlinable(f: PartFacts) -> bool:
    return f.info.kind in ("http", "https")


def _encoded(size: int) -> int:
    return -(-size // 3) * 4


def _lifts(kind: Kind, limit: str, fit: FitMode | None) -> bool:
    """Whether fitting in mode ``fit`` lifts a limit of this kind: a video, a recording or an image can be made to
    fit any format, size or (images) pixel limit; a duration only by trimming or splitting; a PDF's pages and
    bytes only by splitting or trimming, and a file's type never."""
    if fit is None:
        return False
    if limit == "duration":
        return fit in ("trim", "split")
    if kind == "file":
        return limit in ("pages", "bytes") and fit in ("trim", "split")
    return True


def _could(kind: Kind, limit: str) -> bool:
    """Whether some mode of fitting lifts the limit (the hint a finding carries)."""
    return _lifts(kind, limit, "split")


def _limits(slug: str, rules: Rules, sent: _Sent, fit: FitMode | None = None) -> Verdict:
    """What a provider says to inline media of these facts. ``fit``: router will fit the media to the route, so what
    fitting in that mode lifts is no objection."""
    kind = rules.kind
    noun = "audio" if kind == "audio" else f"{kind}s" if kind != "file" else "files"
    shown = sent.format if kind == "audio" else sent.mime
    if shown and rules.formats and not _lifts(kind, "format", fit):
        names = canonical_mimes(rules.formats) if kind != "audio" else frozenset(rules.formats)
        if (canonical_mime(shown) if kind != "audio" else shown) not in names:
            return Verdict(False, "unsupported-format", f"{slug} does not accept {shown}", fit=_could(kind, "format"))
    if sent.size is not None and not _lifts(kind, "bytes", fit):
        if rules.max_bytes is not None and sent.size > rules.max_bytes:
            why = f"{slug} takes inline {noun} up to {rules.max_bytes:,} bytes; this one is {sent.size:,}"
            return Verdict(False, "too-large", why, fit=_could(kind, "bytes"))
        if rules.max_base64_bytes is not None and _encoded(sent.size) > rules.max_base64_bytes:
            why = (
                f"{slug} takes inline {noun} up to {rules.max_base64_bytes:,} bytes of base64; this one is "
                f"{_encoded(sent.size):,}"
            )
            return Verdict(False, "too-large", why, fit=_could(kind, "bytes"))
    limit = rules.max_duration_s
    if limit is not None and sent.duration and sent.duration > limit and not _lifts(kind, "duration", fit):
        why = f"{slug} takes {noun} up to {limit} s; this one runs {sent.duration:.0f} s"
        return Verdict(False, "too-large", why, fit=True)
    if rules.max_side is not None and sent.side and sent.side > rules.max_side and not _lifts(kind, "pixels", fit):
        why = f"{slug} takes images up to {rules.max_side:,} px on a side; this one is {sent.side:,} px"
        return Verdict(False, "too-large", why, fit=True)
    if rules.max_pages is not None and sent.pages and sent.pages > rules.max_pages and not _lifts(kind, "pages", fit):
        why = f"{slug} takes PDFs of up to {rules.max_pages:,} pages; this one has {sent.pages:,}"
        return Verdict(False, "too-large", why, fit=True)
    return OK


def _judged(slug: str, rules: Rules, sent: _Sent, fit: FitMode | None) -> Verdict:
    """``_limits``, after what no fitting changes: router never removes a PDF's encryption, which Claude refuses."""
    if sent.encrypted and not rules.encrypted_pdfs:
        why = f"{slug} does not accept encrypted PDFs (a password or permissions); save it decrypted and send that"
        return Verdict(False, "unsupported-format", why)
    return _limits(slug, rules, sent, fit)


def _no_data(slug: str, rules: Rules, what: str) -> Verdict:
    why = f" ({rules.unknown['data_urls']})" if "data_urls" in rules.unknown else ""
    return Verdict(False, "url-not-accepted", f"{slug} takes no {what}{why}")


@dataclass(slots=True)
class Judge:
    checked: Checked
    table: CapabilityTable
    parts: list[PartFacts]
    got: Mapping[str, Downloaded] = field(default_factory=dict)
    fit: FitMode | None = None  # planning for a router that fits media: what fitting lifts is no objection
    unfetched: FitMode | None = None  # a dry run of such a router: lenient for the URLs it did not download
    _rules: dict[tuple[str, Kind], Rules] = field(default_factory=dict)
    _kept: dict[tuple[str, str, FitMode | None], Verdict] = field(default_factory=dict)

    def rules(self, slug: str, kind: Kind) -> Rules:
        """The provider's rules for a kind, for the request's model (looked up once per request)."""
        key = (slug, kind)
        if key not in self._rules:
            self._rules[key] = self.table.rules(slug, kind, self.checked.model_id)
        return self._rules[key]

    def _fit(self, f: PartFacts) -> FitMode | None:
        return self.fit or (self.unfetched if inlinable(f) and f.part.pointer not in self.got else None)

    def keep(self, f: PartFacts, slug: str, fit: FitMode | None = None) -> Verdict:
        """Can ``slug`` take the part as it is written (or, with ``fit``, once router fitted it)? Asked of every part
        for every provider each time a set of inlines is weighed: answered once."""
        key = (f.part.pointer, slug, fit)
        if (known := self._kept.get(key)) is None:
            known = self._kept[key] = self._keep(f, slug, fit)
        return known

    def _keep(self, f: PartFacts, slug: str, fit: FitMode | None) -> Verdict:
        rules = self.rules(slug, f.kind)
        kind = f.info.kind
        if kind == "data":
            if not rules.data_urls:
                return _no_data(slug, rules, "data URLs")
            return _judged(slug, rules, _Sent(f.mime, f.size, f.duration, f.content), fit)
        if kind in rules.url_kinds and not f.private:
            if f.mime and rules.formats and canonical_mime(f.mime) not in canonical_mimes(rules.formats):
                # The provider fetches it itself, as its extension says it is: router can only help by inlining.
                why = f"{slug} does not accept {f.mime} (from its extension)"
                return Verdict(False, "unsupported-format", why, _could(f.kind, "format"))
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
            if f.kind == "audio":
                return Verdict(False, "url-needs-inline", "OpenRouter takes no audio URLs")
            if not rules.documented:
                return Verdict(False, "url-needs-inline", f"{slug} has no rules in the table, so router inlines")
            return Verdict(False, "url-needs-inline", f"{slug} takes no {kind} {f.kind} URLs")
        return Verdict(False, "url-not-accepted", f"{slug} takes no {kind}:// URLs, and router cannot download them")

    def inline(self, f: PartFacts, slug: str, fit: FitMode | None = None) -> Verdict:
        """Can ``slug`` take the part once router sends it inline (downloaded, or fitted: ``got``)?"""
        got = self.got.get(f.part.pointer)
        if not inlinable(f) and got is None:
            return self.keep(f, slug, fit)
        rules = self.rules(slug, f.kind)
        if not rules.data_urls:
            takes = "data URLs" if f.info.kind in rules.url_kinds else f"{f.info.kind} {f.kind} URLs or data URLs"
            return _no_data(slug, rules, takes)
        if got is None:
            return _judged(slug, rules, _Sent(f.mime, None), fit)
        return _judged(slug, rules, _Sent(got.mime, got.size, got.duration, got.content), fit)

    def natural(self, slug: str) -> tuple[set[str], list[tuple[PartFacts | None, Verdict]]]:
        """The parts ``slug`` needs inlined to take the request, and the parts it refuses either way."""
        inline: set[str] = set()
        refused: list[tuple[PartFacts | None, Verdict]] = []
        for f in self.parts:
            if (v := self.keep(f, slug, self._fit(f))).ok:
                continue
            if not inlinable(f):
                refused.append((f, v))
            elif (w := self.inline(f, slug, self._fit(f))).ok:
                inline.add(f.part.pointer)
            elif v.rule == "url-needs-inline":
                refused.append((f, w))  # why inlining fails is the news
            else:  # refused as written and inline alike: fitting helps only where it lifts the inline refusal
                refused.append((f, replace(v, fit=w.fit)))
        return inline, refused

    def objections(self, slug: str, inline: set[str]) -> list[tuple[PartFacts | None, Verdict]]:
        """Why ``slug`` cannot take the request with exactly the parts in ``inline`` inlined (empty: it can)."""
        found: list[tuple[PartFacts | None, Verdict]] = []
        for f in self.parts:
            fit = self._fit(f)
            v = self.inline(f, slug, fit) if f.part.pointer in inline else self.keep(f, slug, fit)
            if not v.ok:
                found.append((f, v))
        found += [(None, w) for w in self._whole(inline, slug) if not w.ok]
        return found

    def _whole(self, inline: set[str], slug: str) -> list[Verdict]:
        """The request-level limits: how many parts of each kind, the bytes they add up to, the lower pixel cap of
        a request with many images, and the base64 the request carries in all (which fitting can shrink)."""
        sent = {ptr: d for ptr, d in self.got.items() if ptr in inline}
        found: list[Verdict] = []
        for kind in self.checked.kinds:
            rules = self.rules(slug, kind)
            parts = [f for f in self.parts if f.kind == kind]
            count = sum(sent[f.part.pointer].count if f.part.pointer in sent else 1 for f in parts)
            if rules.max_count is not None and count > rules.max_count:
                many = _PLURAL[kind] if rules.max_count != 1 else kind if kind != "audio" else "audio file"
                why = f"{slug} takes at most {rules.max_count} {many} per request; this one has {count}"
                found.append(Verdict(False, "too-large", why, kind=kind))
            found += self._many(slug, rules, parts, count, sent)
            if rules.max_total_bytes is not None and not _lifts(kind, "bytes", self.fit):
                total = sum(d.all_bytes for d in (sent.get(f.part.pointer) for f in parts) if d is not None)
                total += sum(f.size or 0 for f in parts if f.data is not None and f.part.pointer not in sent)
                if total > rules.max_total_bytes:
                    most = rules.max_total_bytes
                    why = f"{slug} takes up to {most:,} bytes of {_PLURAL[kind]} per request; this one has {total:,}"
                    found.append(Verdict(False, "too-large", why, fit=_could(kind, "bytes"), kind=kind))
        cap = self.table.providers[slug].max_request_bytes
        if isinstance(cap, int) and not self.fit:
            encoded = sum(f.data.encoded_size for f in self.parts if f.data and f.part.pointer not in sent)
            encoded += sum(_encoded(d.all_bytes) for d in sent.values())
            if encoded > cap:
                what = "the videos" if self.checked.kinds == ["video"] else "the inline media"
                why = f"{slug} takes requests up to {cap:,} bytes; {what} alone come to {encoded:,} bytes of base64"
                found.append(Verdict(False, "too-large", why, fit=True))
        return found

    def _many(
        self, slug: str, rules: Rules, parts: Sequence[PartFacts], count: int, sent: Mapping[str, Downloaded]
    ) -> list[Verdict]:
        """Anthropic's lower pixel cap when a request holds many images (more than 20: 2000 px a side)."""
        if rules.many_over is None or rules.max_side_many is None or count <= rules.many_over or self.fit:
            return []
        for f in parts:
            got = sent.get(f.part.pointer)
            content = got.content if got is not None else f.content
            side = content.side if content is not None else None
            if side is not None and side > rules.max_side_many:
                why = (
                    f"with more than {rules.many_over} images in a request, {slug} takes images up to "
                    f"{rules.max_side_many:,} px on a side; this one is {side:,} px"
                )
                return [Verdict(False, "too-large", why, fit=True, kind="image")]
        return []


def fits(judge: Judge, slug: str, f: PartFacts, got: Downloaded | None) -> bool:
    """Whether ``slug`` takes a part's inline bytes as they are (a download, or the caller's own data URL): the
    per-part limits, and the lower pixel cap of a request with many images, which fitting one part can change."""
    rules = judge.rules(slug, f.kind)
    held = got if got is not None else f
    sent = _Sent(held.mime, held.size, held.duration, held.content)
    many = rules.many_over is not None and sum(g.kind == f.kind for g in judge.checked.parts) > rules.many_over
    if many and rules.max_side_many is not None and (sent.side or 0) > rules.max_side_many:
        return False
    return _limits(slug, rules, sent).ok
