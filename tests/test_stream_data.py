"""StreamAccumulator.add_data: SSE data text decodes exactly as `json.loads` would."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmport import ErrorKind
from llmport.streaming import StreamAccumulator

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=12,
)
chunks = st.fixed_dictionaries(
    {
        "id": st.text(max_size=5),
        "choices": st.lists(
            st.fixed_dictionaries(
                {
                    "delta": st.dictionaries(
                        st.sampled_from(["content", "reasoning_content", "role"]),
                        st.text(max_size=5),
                    )
                }
            ),
            max_size=1,
        ),
    },
    optional={"model": st.text(max_size=5), "usage": json_values, "extra": json_values},
)


@settings(max_examples=100, deadline=None)
@given(chunk=chunks, indent=st.none() | st.integers(0, 2))
def test_data_text_gives_the_events_of_the_parsed_chunk(
    chunk: dict[str, Any], indent: int | None
) -> None:
    from_text, from_object = StreamAccumulator(), StreamAccumulator()
    assert from_text.add_data(json.dumps(chunk, indent=indent)) == from_object.add(chunk)
    assert from_text.response() == from_object.response()


@pytest.mark.parametrize(
    "data", ['{"id": "a"} x', '{"id": "a"}{}', '{"id": ', "\ufeff{}", "nan-ish", "{'a': 1}"]
)
def test_text_that_json_loads_rejects_is_a_bad_response(data: str) -> None:
    with pytest.raises(json.JSONDecodeError):
        json.loads(data)
    acc = StreamAccumulator()
    assert acc.add_data(data) == []
    response = acc.response()
    assert response.error is not None
    assert response.error.kind is ErrorKind.BAD_RESPONSE
