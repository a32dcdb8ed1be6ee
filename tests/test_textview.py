"""Text read without some of its characters, and strings read in place from a body through their escapes."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from router._model.body import Body
from router._model.jsontext import _unescape, _whole_escapes, skeleton
from router._model.textview import Filtered


def _drop_breaks(text: str) -> str:
    return text.replace("\n", "").replace("\r", "")


@given(
    text=st.text(alphabet="AB+/=\r\n", max_size=300),
    keep=st.integers(0, 20),
    step=st.integers(1, 40),
    cuts=st.lists(st.tuples(st.integers(-5, 320), st.integers(-5, 320)), max_size=12),
)
def test_filtered_slices_are_slices_of_the_cleaned_text(
    text: str, keep: int, step: int, cuts: list[tuple[int, int]]
) -> None:
    """Every slice of a Filtered text (any block size, a kept head) is that slice of the cleaned string."""
    cleaned = text[:keep] + _drop_breaks(text[keep:])
    view = Filtered(text, _drop_breaks, keep=keep, step=step)
    assert len(view) == len(cleaned)
    assert view.dropped == len(text) - len(cleaned)
    assert view[0 : len(view)] == cleaned
    for begin, end in cuts:
        assert view[begin:end] == cleaned[begin:end]


@given(
    value=st.text(alphabet='AZaz09+/=\n\r"\\é\t ', max_size=200),
    slashes=st.booleans(),
    cuts=st.lists(st.tuples(st.integers(0, 210), st.integers(0, 210)), max_size=8),
)
def test_every_string_left_in_a_body_reads_as_json_decodes_it(
    value: str, slashes: bool, cuts: list[tuple[int, int]]
) -> None:
    """A string set aside in a body (escaped quotes and backslashes, `\\/`, `\\n`, non-ASCII) reads back exactly
    the value `json.loads` gives, whole and by slices, whether decoded whole or read through its escapes."""
    value = "=" * 40 + value  # set aside (big=40); the short strings around it stay in the text
    text = json.dumps({"a": "x\\", "s": value, "b": 1})  # non-ASCII as \u escapes, as the wire has it
    if slashes:
        text = text.replace("/", "\\/")
    data, holes = skeleton(Body.of(text.encode()), big=40)
    parsed = json.loads(data)
    assert (parsed["a"], parsed["b"], len(holes)) == ("x\\", 1, 1)
    read = holes[parsed["s"]].text()
    assert read[0 : len(read)] == value
    for begin, end in cuts:
        assert read[begin:end] == value[begin:end]


@given(
    value=st.text(alphabet='AB+/=\r\n"\\é', max_size=200),
    step=st.integers(6, 30),
    cuts=st.lists(st.tuples(st.integers(0, 210), st.integers(0, 210)), max_size=8),
)
def test_escapes_are_never_cut_between_blocks(value: str, step: int, cuts: list[tuple[int, int]]) -> None:
    """A JSON string's escapes (`\\n`, `\\/`, `\\\\`, `\\"`, `\\u00e9`) read right at any block size: a block never
    ends inside one."""
    escaped = json.dumps(value)[1:-1].replace("/", "\\/")
    view = Filtered(escaped, _unescape, split=_whole_escapes, step=step)
    assert view[0 : len(view)] == value
    for begin, end in cuts:
        assert view[begin:end] == value[begin:end]
