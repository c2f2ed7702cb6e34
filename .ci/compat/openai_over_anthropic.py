#!/usr/bin/env python3
"""The OpenAI Python SDK against a gateway whose model is served by an Anthropic-format upstream
(.ci/compat/anthropic_mock.py): the streamed text and tool-call arguments must equal the mock's
script byte for byte, fragment for fragment.

Environment: BULKHEAD_BASE_URL (the gateway's /v1 URL), BULKHEAD_MODEL (default "claude").
Prints one PASS/FAIL line per check and "N passed, M failed" last; exits 1 if any check failed.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _checks import run, user  # noqa: E402
from anthropic_mock import JSON_PARTS, TEXT_PARTS, TOOL_TEXT  # noqa: E402

import openai  # noqa: E402
from openai import OpenAI  # noqa: E402

BASE_URL = os.environ.get("BULKHEAD_BASE_URL", "http://127.0.0.1:8080/v1")
MODEL = os.environ.get("BULKHEAD_MODEL", "claude")
client = OpenAI(base_url=BASE_URL, api_key=os.environ.get("BULKHEAD_API_KEY") or "unused",
                max_retries=0, timeout=30.0)
TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


def check_text_stream():
    """streamed text deltas are the mock's text_delta parts, byte for byte"""
    chunks = list(client.chat.completions.create(model=MODEL, messages=user("hi"), stream=True))
    parts = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert parts == TEXT_PARTS, f"deltas {parts!r}, want {TEXT_PARTS!r}"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"], f"finish reasons {finishes!r}"


def check_tool_stream():
    """streamed tool-call argument fragments are the mock's input_json_delta parts"""
    chunks = list(client.chat.completions.create(model=MODEL, messages=user("weather?"),
                                                 tools=[TOOL], stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == TOOL_TEXT, f"text {text!r}, want {TOOL_TEXT!r}"
    calls = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert calls and calls[0].function.name == "get_weather", f"first fragment {calls[:1]!r}"
    assert calls[0].id == "toolu_mock_1", f"id {calls[0].id!r}"
    fragments = [tc.function.arguments for tc in calls if tc.function and tc.function.arguments]
    assert fragments == JSON_PARTS, f"fragments {fragments!r}, want {JSON_PARTS!r}"
    json.loads("".join(fragments))
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["tool_calls"], f"finish reasons {finishes!r}"


def check_json():
    """a JSON answer carries the joined text and the mock's usage"""
    response = client.chat.completions.create(model=MODEL, messages=user("hi"))
    assert response.choices[0].message.content == "".join(TEXT_PARTS), response.choices[0].message.content
    assert response.usage.prompt_tokens == 12 and response.usage.completion_tokens == 7, response.usage


def main():
    print(f"openai {openai.__version__} against {BASE_URL}, model {MODEL!r} (Anthropic-format upstream)")
    return run([check_text_stream, check_tool_stream, check_json])


if __name__ == "__main__":
    sys.exit(main())
