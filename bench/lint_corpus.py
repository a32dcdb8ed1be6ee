"""A reproducible corpus of request payload files for the lint benchmark: valid and invalid, JSON and JSONL.

    python bench/lint_corpus.py DIR [N_FILES]     # writes DIR/NNN/*.json|*.jsonl, prints the counts

About one file in ten is JSONL (five requests a line each, some as OpenAI batch lines under ``body``); the
rest are single requests. The mix is what a repository of fixtures holds: text-only requests, YouTube and
https video links, small inline clips (a real MP4), and the mistakes the rules exist for (bad base64, bytes
that are not a video, a model without video input, ``videoUrl``, blocked and ``ftp:`` URLs, truncated JSON).
"""

from __future__ import annotations

import base64
import json
import random
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import media

GEMINI = "google/gemini-2.5-flash"


def _video(url: str, *, key: str = "video_url", kind: str = "video_url") -> dict[str, Any]:
    part: dict[str, Any] = {key: {"url": url}}
    if kind:
        part = {"type": kind, **part}
    return part


def _request(parts: list[dict[str, Any]], model: str = GEMINI, **extra: Any) -> dict[str, Any]:
    content = [{"type": "text", "text": "Describe what happens in this clip, step by step."}, *parts]
    return {"model": model, "messages": [{"role": "user", "content": content}], **extra}


def kinds(clip: bytes) -> dict[str, tuple[int, Callable[[random.Random], Any]]]:
    """name -> (weight, maker). A maker returns the request, or a str for text that is not JSON."""
    inline = "data:video/mp4;base64," + base64.b64encode(clip).decode()

    def yt(rng: random.Random) -> str:
        return f"https://www.youtube.com/watch?v={rng.randbytes(8).hex()[:11]}"

    def https(rng: random.Random) -> str:
        return f"https://cdn.example.com/videos/{rng.randrange(10**6)}.mp4?sig={rng.randbytes(6).hex()}"

    return {
        "text-only": (
            20,
            lambda rng: {
                "model": rng.choice(["openai/gpt-4o-mini", "anthropic/claude-sonnet-4", GEMINI]),
                "messages": [
                    {"role": "system", "content": "You are terse."},
                    {"role": "user", "content": f"Question {rng.randrange(10**6)}: what is the capital of France?"},
                ],
                "temperature": 0.3,
            },
        ),
        "youtube": (15, lambda rng: _request([_video(yt(rng))])),
        "https-needs-inline": (15, lambda rng: _request([_video(https(rng))])),
        "inline-mp4": (10, lambda rng: _request([_video(inline)], provider={"only": ["google-vertex"]})),
        "bad-base64": (4, lambda rng: _request([_video("data:video/mp4;base64,AAAA$$$notbase64")])),
        "not-a-video": (
            4,
            lambda rng: _request(
                [_video("data:video/mp4;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n" * 8).decode())]
            ),
        ),
        "model-lacks-video": (6, lambda rng: _request([_video(yt(rng))], model="openai/gpt-4o-mini")),
        "unknown-model": (4, lambda rng: _request([_video(yt(rng))], model=f"acme/vision-{rng.randrange(99)}")),
        "camelcase": (5, lambda rng: _request([_video(yt(rng), key="videoUrl", kind="")])),
        "input-video": (4, lambda rng: _request([_video(https(rng), kind="input_video")])),
        "blocked-url": (3, lambda rng: _request([_video("http://169.254.169.254/latest/meta-data/clip.mp4")])),
        "ftp-url": (2, lambda rng: _request([_video(f"ftp://files.example.com/{rng.randrange(999)}.mp4")])),
        "youtube-to-vertex": (3, lambda rng: _request([_video(yt(rng))], provider={"only": ["google-vertex"]})),
        "invalid-json": (3, lambda rng: json.dumps(_request([_video(yt(rng))]))[: rng.randrange(20, 120)]),
        "invalid-request": (2, lambda rng: {"model": GEMINI, "prompt": "no messages here"}),
    }


def generate(root: Path, n_files: int = 10_000, *, seed: int = 4) -> dict[str, Any]:
    """Write the corpus under ``root`` (once: an existing complete corpus is reused) and describe it."""
    manifest = root.with_name(root.name + ".manifest.json")  # outside root: `router check root` must not see it
    if manifest.exists():
        described: dict[str, Any] = json.loads(manifest.read_text())
        if described.get("files") == n_files and described.get("seed") == seed:
            return described
    rng = random.Random(seed)
    table = kinds(media.tiny_clip().read_bytes())
    names = list(table)
    weights = [table[n][0] for n in names]
    counts: Counter[str] = Counter()
    json_files, jsonl_files, requests = [], [], 0
    for index in range(n_files):
        folder = root / f"{index // 250:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        if index % 10 == 9:
            lines = []
            for line_no in range(5):
                name = rng.choices(names, weights)[0]
                while name == "invalid-json" and line_no != 2:  # at most one broken line, in the middle
                    name = rng.choices(names, weights)[0]
                counts[name] += 1
                made = table[name][1](rng)
                if not isinstance(made, str) and line_no % 2:
                    made = {
                        "custom_id": f"req-{index}-{line_no}",
                        "method": "POST",
                        "url": "/v1/chat/completions",
                        "body": made,
                    }
                lines.append(made if isinstance(made, str) else json.dumps(made))
            path = folder / f"batch-{index:05d}.jsonl"
            path.write_text("\n".join(lines) + "\n")
            jsonl_files.append(path)
            requests += len(lines)
        else:
            name = rng.choices(names, weights)[0]
            counts[name] += 1
            made = table[name][1](rng)
            path = folder / f"request-{index:05d}.json"
            path.write_text(made if isinstance(made, str) else json.dumps(made, indent=2))
            json_files.append(path)
            requests += 1
    described = {
        "files": n_files,
        "seed": seed,
        "json_files": len(json_files),
        "jsonl_files": len(jsonl_files),
        "requests": requests,
        "bytes": sum(p.stat().st_size for p in [*json_files, *jsonl_files]),
        "kinds": dict(sorted(counts.items())),
    }
    manifest.write_text(json.dumps(described, indent=2))
    return described


def json_files(root: Path) -> list[str]:
    return sorted(str(p) for p in root.rglob("*.json"))


if __name__ == "__main__":
    out = generate(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 10_000)
    print(json.dumps(out, indent=2))
