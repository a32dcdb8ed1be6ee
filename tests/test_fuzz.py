"""Property tests: whatever JSON arrives, `check` answers with diagnostics, never an exception, and a dry-run
rewrite refuses exactly what `check` reports as errors."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import router

R = router.Router()

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
urls = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["https://youtu.be/", "data:video/mp4;base64,", "data:", "http://[::1", "gs://", "file:"]).flatmap(
        lambda prefix: st.text(max_size=30).map(lambda rest: prefix + rest)
    ),
)
parts = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"type": st.sampled_from(["video_url", "input_video", "text", "image_url"])},
        optional={
            "video_url": st.one_of(json_values, st.fixed_dictionaries({"url": urls})),
            "videoUrl": st.fixed_dictionaries({"url": urls}),
        },
    ),
)
requests = st.fixed_dictionaries(
    {
        "messages": st.lists(
            st.fixed_dictionaries({"role": st.just("user"), "content": st.lists(parts, max_size=3)}), max_size=2
        )
    },
    optional={
        "model": st.one_of(st.sampled_from(["google/gemini-2.5-flash", "openai/gpt-4o-mini"]), json_values),
        "provider": st.one_of(
            json_values,
            st.fixed_dictionaries(
                {},
                optional={
                    "only": st.lists(st.sampled_from(["google-vertex", "x", "google-ai-studio/flex"])),
                    "ignore": json_values,
                    "order": json_values,
                    "allow_fallbacks": json_values,
                },
            ),
        ),
    },
)


def _check_and_dry_run_agree(payload: Any) -> None:
    """`check` answers with a report, never an exception, and a dry-run rewrite is refused exactly when that report
    has errors, with the same errors at the same places (the rewrite never sends what check refuses)."""
    report = R.check(payload)
    try:
        R.outgoing(payload, dry_run=True)
    except router.RequestRejected as exc:
        refused = [(d.rule, d.pointer) for d in exc.diagnostics if d.severity == "error"]
    else:
        refused = []
    assert refused == [(d.rule, d.pointer) for d in report.errors]
    assert report.ok == (not refused)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_random_json_never_raises(value: Any) -> None:
    """Any JSON value, as an object or as text, yields a report (no exception) that a dry run agrees with."""
    _check_and_dry_run_agree(value)
    _check_and_dry_run_agree(json.dumps(value))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests)
def test_random_content_parts_never_raise(payload: dict[str, Any]) -> None:
    """Random chat requests with odd video parts and provider fields never raise out of check or a dry run, and
    the dry run is refused exactly when check reports errors."""
    _check_and_dry_run_agree(payload)
