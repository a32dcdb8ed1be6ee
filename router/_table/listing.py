"""OpenRouter's catalogue API answers read into a :class:`Catalogue`: ``GET /models`` entries, ``GET
/models/{author}/{slug}/endpoints`` documents and ``GET /providers`` entries.

What an answer does not say in a shape this reader knows (no ``architecture.input_modalities``, an endpoints
document that is missing or malformed) is kept as unknown (``None``), never guessed. Pure: documents in, a
catalogue out; ``remote`` fetches the documents.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from .catalogue import MEDIA, Catalogue, CatalogueModel, Endpoint

__all__ = ["details_path", "from_api", "input_modalities"]


def details_path(model: Mapping[str, Any]) -> str | None:
    """``author/slug`` for ``GET /models/{author}/{slug}/endpoints``, from the model's ``links.details``.

    OpenRouter points ``:free``/``:batch`` variants at their base model's endpoints (by canonical slug), so one
    request serves them all. Without a link, the id less its ``:variant`` is used.
    """
    links = model.get("links")
    details = links.get("details") if isinstance(links, Mapping) else None
    if isinstance(details, str) and "/models/" in details and details.endswith("/endpoints"):
        path = details.rsplit("/models/", 1)[1].removesuffix("/endpoints").strip("/")
        if path.count("/") >= 1:
            return path
    model_id = model.get("id")
    if isinstance(model_id, str) and "/" in model_id:
        return model_id.split(":", 1)[0]
    return None


def _strings(value: Any) -> tuple[str, ...] | None:
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


def _architecture(model: Mapping[str, Any]) -> Mapping[str, Any]:
    arch = model.get("architecture")
    return arch if isinstance(arch, Mapping) else {}


def input_modalities(model: Mapping[str, Any]) -> tuple[str, ...] | None:
    """What a ``GET /models`` entry says the model takes, or None when it does not say it in a shape this
    reader knows (no ``architecture``, no list of strings): unknown, which is not "text only"."""
    return _strings(_architecture(model).get("input_modalities"))


def _endpoints(document: Any) -> tuple[Endpoint, ...] | None:
    """The endpoints an endpoints answer lists; None when the answer is missing or not the documented shape
    (``{"data": {"endpoints": [...]}}``, each with a ``tag``), so who serves the model stays unknown."""
    data = document.get("data") if isinstance(document, Mapping) else None
    items = data.get("endpoints") if isinstance(data, Mapping) else None
    if not isinstance(items, list):
        return None
    out = []
    for item in items:
        if isinstance(item, Mapping) and isinstance(item.get("tag"), str) and item["tag"].strip():
            tier = item.get("service_tier")
            out.append(Endpoint(tag=item["tag"].strip(), tier=tier if isinstance(tier, str) and tier else None))
    return tuple(out) if out or not items else None


def from_api(
    models: Iterable[Mapping[str, Any]],
    endpoints: Mapping[str, Any],
    providers: Iterable[Mapping[str, Any]],
    *,
    base_url: str,
    fetched_at: datetime | None = None,
) -> Catalogue:
    """Build a catalogue from ``GET /models`` entries, ``GET .../endpoints`` documents keyed by
    :func:`details_path` (None: the answer was a 404), and ``GET /providers`` entries. A model without readable
    modalities gets ``input=None``; a media model whose endpoints were not fetched, or came back missing or
    malformed, keeps ``endpoints=None``; one whose endpoints document lists none gets an empty tuple.
    """
    out: dict[str, CatalogueModel] = {}
    for entry in models:
        model_id = entry.get("id")
        if not isinstance(model_id, str) or not model_id:
            continue
        inputs = input_modalities(entry)
        found = None
        path = details_path(entry) if inputs is not None and MEDIA & set(inputs) else None
        if path is not None and path in endpoints:
            found = _endpoints(endpoints[path])
        outputs = _strings(_architecture(entry).get("output_modalities")) or ("text",)
        out[model_id] = CatalogueModel(input=inputs, output=outputs, endpoints=found)
    names = {
        p["slug"]: p["name"] if isinstance(p.get("name"), str) else p["slug"]
        for p in providers
        if isinstance(p.get("slug"), str) and p["slug"]
    }
    return Catalogue(fetched_at or datetime.now(UTC), base_url, out, dict(sorted(names.items())))
