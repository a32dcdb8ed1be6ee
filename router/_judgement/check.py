"""Request + table -> facts about every media part and the diagnostics that need no provider choice.

The facts of one part are ``facts.py``'s; here the request as a whole: its routing fields, its models and what
each takes, and the spellings the rewrite normalises. Provider-dependent findings (which provider takes which
part) belong to ``plan.py``, which reads these facts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._base.kinds import KINDS, Kind
from .._base.redact import redacted, sized
from .._base.rules import Diagnostic
from .._model.jsontext import Hole
from .._model.parts import CAMEL, Api, MediaPart, api_of, find_media_parts
from .._table.capabilities import CapabilityTable, Model
from .facts import PartFacts, accepted_types, part_facts

__all__ = ["Checked", "ModelRef", "check_request"]


@dataclass(frozen=True, slots=True)
class ModelRef:
    """One model the request may reach: the primary, or a fallback of its ``models`` list."""

    id: str
    pointer: str  # /model, or /models/N
    model: Model | None  # None: not in the table


@redacted(request=sized)
@dataclass(slots=True)
class Checked:
    request: Mapping[str, Any] | None
    api: Api = "chat"
    models: list[ModelRef] = field(default_factory=list)  # the primary first, then the fallbacks
    parts: list[PartFacts] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def primary(self) -> ModelRef | None:
        return self.models[0] if self.models else None

    @property
    def model_id(self) -> str | None:
        return self.models[0].id if self.models else None

    @property
    def model(self) -> Model | None:
        return self.models[0].model if self.models else None

    @property
    def kinds(self) -> list[Kind]:
        """The kinds of media the request carries, in the order of ``KINDS``."""
        present = {f.kind for f in self.parts}
        return [k for k in KINDS if k in present]


def check_request(
    request: Any,
    table: CapabilityTable,
    *,
    model: str | None = None,
    allow_private_urls: bool = False,
    holes: Mapping[str, Hole] | None = None,
    api: Api | None = None,
    fitting: bool = False,
) -> Checked:
    """Find the media parts and everything wrong with them that holds whichever provider is chosen.

    ``api`` is the endpoint's (chat completions or Responses); None tells it by the request's shape.
    ``fitting``: the router fits media to the route, so a format OpenRouter refuses rules nothing out (a
    ``.mkv`` is downloaded and remuxed, a HEIC converted).
    """
    if not isinstance(request, Mapping):
        kind = type(request).__name__ if request is not None else "null"
        return Checked(
            None,
            diagnostics=[Diagnostic("invalid-request", f"a request is a JSON object, not {kind}")],
        )
    out = Checked(request, api_of(request, api))
    parts = list(find_media_parts(request, out.diagnostics, holes, out.api))
    if not parts:
        return out
    _check_routing_fields(request, out.diagnostics)
    found: list[Diagnostic] = []
    accepted = {kind: accepted_types(table, kind) for kind in {part.kind for part in parts}}
    for part in parts:
        found += _spellings(part)
        out.parts.append(part_facts(part, accepted[part.kind], allow_private_urls, found, fitting))
    _check_models(out, _models(request, model), table, _parses_files(request, out.parts))
    out.diagnostics += found
    return out


def _spellings(part: MediaPart) -> list[Diagnostic]:
    """The SDK spellings of a part that the rewrite (and ``check --fix``) normalise."""
    found = []
    if part.key in CAMEL:
        found.append(
            Diagnostic(
                "camelcase-key",
                f"`{part.key}` is the SDK's spelling; the HTTP API reads `{CAMEL[part.key]}`",
                pointer=f"{part.pointer}/{part.key}",
                fix=f"Rename the key to `{CAMEL[part.key]}`.",
                kind=part.kind,
            )
        )
    if part.api == "chat" and part.type == "input_video":
        found.append(
            Diagnostic(
                "legacy-video-part",
                "`input_video` is a deprecated chat part type; providers other than Gemini refuse it",
                pointer=f"{part.pointer}/type",
                fix='Write `"type": "video_url"` (`router check --fix`, or send through router).',
                kind="video",
            )
        )
    return found


def _parses_files(request: Mapping[str, Any], parts: list[PartFacts]) -> bool:
    """Whether OpenRouter's file-parser stands in for a model without file input: it parses PDFs (and files whose
    type cannot be told, URLs without an extension) unless the request asks for the ``native`` engine only."""
    plugins = request.get("plugins")
    for plugin in plugins if isinstance(plugins, list) else []:
        pdf = plugin.get("pdf") if isinstance(plugin, Mapping) and plugin.get("id") == "file-parser" else None
        if isinstance(pdf, Mapping) and pdf.get("engine") == "native":
            return False
    files = [f for f in parts if f.kind == "file"]
    return all(f.mime in (None, "application/pdf") for f in files)


def _check_routing_fields(request: Mapping[str, Any], diags: list[Diagnostic]) -> None:
    """The fields routing reads must have the types OpenRouter expects, or the route would be a guess."""

    def wrong(pointer: str, what: str) -> None:
        diags.append(
            Diagnostic("invalid-request", f"`{pointer[1:].replace('/', '.')}` must be {what}", pointer=pointer)
        )

    if "model" in request and not (isinstance(request["model"], str) and request["model"]):
        wrong("/model", "a model id string")
    if "models" in request and not (
        isinstance(request["models"], list) and all(isinstance(m, str) and m for m in request["models"])
    ):
        wrong("/models", "a list of model id strings")
    if "provider" not in request:
        return
    prefs = request["provider"]
    if not isinstance(prefs, Mapping):
        wrong("/provider", "an object (`only`, `order`, `ignore`, ...)")
        return
    for key in ("only", "order", "ignore"):
        value = prefs.get(key)
        if key in prefs and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            wrong(f"/provider/{key}", "a list of provider slugs")
    if "allow_fallbacks" in prefs and not isinstance(prefs["allow_fallbacks"], bool):
        wrong("/provider/allow_fallbacks", "true or false")


def _models(request: Mapping[str, Any], override: str | None) -> list[tuple[str, str]]:
    """(id, pointer) of every model the request may reach: ``model`` first, then ``models`` (fallbacks)."""
    if override:
        return [(override, "/model")]
    found: dict[str, str] = {}
    if isinstance(request.get("model"), str) and request["model"]:
        found[request["model"]] = "/model"
    listed = request.get("models")
    if isinstance(listed, Sequence) and not isinstance(listed, str):
        for i, m in enumerate(listed):
            if isinstance(m, str) and m:
                found.setdefault(m, f"/models/{i}")
    return list(found.items())


_NO_PARSER = "; OpenRouter's file-parser reads PDFs only, and not with the `native` engine"


def _check_models(out: Checked, names: list[tuple[str, str]], table: CapabilityTable, parses_files: bool) -> None:
    if not names:
        out.diagnostics.append(Diagnostic("unknown-model", "the request names no model", pointer=""))
        return
    for model_id, pointer in names:
        ref = ModelRef(model_id, pointer, table.model(model_id))
        out.models.append(ref)
        role = "" if pointer in ("/model", "/models/0") else " (a fallback in `models`)"
        if ref.model is None:
            why = table.unknown_reason(model_id)
            message = f"model {model_id!r}{role} is not in the capability table" + (f" ({why})" if why else "")
            out.diagnostics.append(Diagnostic("unknown-model", message, pointer=pointer))
            continue
        for kind in out.kinds:
            if ref.model.takes(kind) or (kind == "file" and parses_files):
                continue
            takes = ", ".join(ref.model.input)
            fix = None if not role else f"Remove it from `models`, or replace it with a model that takes {kind}."
            dropped = f"; if it is reached, the {kind} is dropped" if role else ""
            parser = (
                "; OpenRouter's file-parser reads PDFs only, and not with the `native` engine" if kind == "file" else ""
            )
            out.diagnostics.append(
                Diagnostic(
                    f"model-lacks-{kind}",
                    f"model {model_id!r}{role} does not take {kind} input (it takes: {takes}){parser}{dropped}",
                    pointer=pointer,
                    fix=fix,
                    kind=kind,
                )
            )
