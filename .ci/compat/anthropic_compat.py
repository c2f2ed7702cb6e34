#!/usr/bin/env python3
"""Anthropic Python SDK compatibility checks against a running Bulkhead gateway's /v1/messages.

Proves that the official `anthropic` package works against Bulkhead by changing only its base
URL: a plain message, a streamed one (text and raw events), a tool-use round trip (JSON and
streamed), and errors in Anthropic's shape. Whatever provider serves the model behind the
gateway (the simulated one, or an OpenAI-format upstream), the client only sees Anthropic's
wire format.

Usage (the server must already be running):

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install anthropic
    cargo run -p bulkhead-server &
    /tmp/venv/bin/python .ci/compat/anthropic_compat.py

Environment:
    BULKHEAD_ROOT_URL   the gateway's root URL, without /v1 (default http://127.0.0.1:8080)
    BULKHEAD_MODEL      the model to ask for (default "simulated")
    BULKHEAD_API_KEY    a virtual key, if the gateway requires one (default "unused")
    BULKHEAD_WAIT_SECS  how long to wait for the gateway to answer first (default 15)

Prints one PASS/FAIL line per check and "N passed, M failed" last; exits 1 if any check failed.
"""

import os
import sys
import urllib.request

import anthropic
from _checks import Checks, run, user, wait_for
from anthropic import Anthropic

ROOT_URL = os.environ.get("BULKHEAD_ROOT_URL", "http://127.0.0.1:8080")
MODEL = os.environ.get("BULKHEAD_MODEL", "simulated")
API_KEY = os.environ.get("BULKHEAD_API_KEY") or "unused"
WAIT_SECS = float(os.environ.get("BULKHEAD_WAIT_SECS", "15"))
PROMPT = "Say something about gateways in one sentence."

WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Get the current weather in a city.",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string", "description": "The city name."}},
        "required": ["city"],
    },
}
FORCE_WEATHER = {"type": "tool", "name": "get_weather"}

# No retries: a failure must show up as the failure it is, not as a slow pass.
client = Anthropic(base_url=ROOT_URL, api_key=API_KEY, max_retries=0, timeout=30.0)

CHECKS = Checks()
check = CHECKS.check


def text_of(message):
    return "".join(block.text for block in message.content if block.type == "text")


def plain(prompt=PROMPT, **kwargs):
    return client.messages.create(model=MODEL, max_tokens=256, messages=user(prompt), **kwargs)


@check
def plain_message():
    """a plain message has text content, a stop reason and usage"""
    message = plain(system="You are concise.", stop_sequences=["\n\nHuman:"], metadata={"user_id": "compat"})
    assert message.type == "message", f'type = {message.type!r}, want "message"'
    assert message.role == "assistant", f"role = {message.role!r}"
    assert message.id, "the message has no id"
    assert message.content and message.content[0].type == "text", f"content = {message.content!r}"
    assert text_of(message), "the answer's text is empty"
    assert message.stop_reason in ("end_turn", "max_tokens"), f"stop_reason = {message.stop_reason!r}"
    assert message.usage.input_tokens > 0, f"input_tokens = {message.usage.input_tokens}"
    assert message.usage.output_tokens > 0, f"output_tokens = {message.usage.output_tokens}"


@check
def streamed_text_equals_the_plain_answer():
    """a streamed answer's text equals the non-streamed answer, and the final message is whole"""
    expected = text_of(plain())
    with client.messages.stream(model=MODEL, max_tokens=256, messages=user(PROMPT)) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == expected, f"streamed text differs:\n  stream: {text!r}\n  json:   {expected!r}"
    assert text_of(final) == expected, "the accumulated final message differs from the text"
    assert final.stop_reason in ("end_turn", "max_tokens"), f"stop_reason = {final.stop_reason!r}"
    assert final.usage.output_tokens > 0, f"output_tokens = {final.usage.output_tokens}"


@check
def raw_stream_events_are_in_anthropics_order():
    """raw stream events run message_start, content blocks, message_delta, message_stop"""
    events = list(client.messages.create(model=MODEL, max_tokens=256, messages=user(PROMPT), stream=True))
    types = [e.type for e in events]
    assert types[0] == "message_start", f"first event {types[0]!r}"
    assert types[-2:] == ["message_delta", "message_stop"], f"last events {types[-2:]!r}"
    starts = [e.index for e in events if e.type == "content_block_start"]
    stops = [e.index for e in events if e.type == "content_block_stop"]
    assert starts and sorted(starts) == sorted(stops), f"blocks started {starts}, stopped {stops}"
    deltas = [e for e in events if e.type == "content_block_delta"]
    assert all(d.delta.type == "text_delta" for d in deltas), "a non-text delta in a text answer"


@check
def tool_use_round_trip():
    """a forced tool call comes back as a tool_use block, and its result continues the chat"""
    first = plain("What is the weather in Paris?", tools=[WEATHER_TOOL], tool_choice=FORCE_WEATHER)
    assert first.stop_reason == "tool_use", f"stop_reason = {first.stop_reason!r}"
    calls = [b for b in first.content if b.type == "tool_use"]
    assert len(calls) == 1, f"{len(calls)} tool_use blocks, want 1"
    call = calls[0]
    assert call.name == "get_weather", f"tool name = {call.name!r}"
    assert isinstance(call.input, dict) and isinstance(call.input.get("city"), str), (
        f"input = {call.input!r}, want an object with a string city"
    )
    assert call.id, "the tool_use block has no id"
    second = client.messages.create(
        model=MODEL,
        max_tokens=256,
        tools=[WEATHER_TOOL],
        tool_choice={"type": "none"},
        messages=[
            {"role": "user", "content": "What is the weather in Paris?"},
            {"role": "assistant", "content": [b.model_dump() for b in first.content]},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "18C, sunny"}],
            },
        ],
    )
    assert second.stop_reason != "tool_use", "the model called a tool again with tool_choice none"
    assert text_of(second), "no text after the tool result"


@check
def streamed_tool_use_matches_the_json_one():
    """a streamed tool call accumulates to the same name and input as the JSON one"""
    ask = dict(model=MODEL, max_tokens=256, messages=user("Weather in Oslo?"),
               tools=[WEATHER_TOOL], tool_choice=FORCE_WEATHER)
    expected = [b for b in client.messages.create(**ask).content if b.type == "tool_use"][0]
    with client.messages.stream(**ask) as stream:
        final = stream.get_final_message()
    calls = [b for b in final.content if b.type == "tool_use"]
    assert len(calls) == 1, f"{len(calls)} streamed tool_use blocks, want 1"
    assert calls[0].name == expected.name, f"name {calls[0].name!r} != {expected.name!r}"
    assert calls[0].input == expected.input, f"input {calls[0].input!r} != {expected.input!r}"
    assert final.stop_reason == "tool_use", f"stop_reason = {final.stop_reason!r}"


@check
def unknown_model_is_not_found():
    """an unknown model raises NotFoundError with Anthropic's error body"""
    try:
        client.messages.create(model="no-such-model", max_tokens=16, messages=user("hi"))
    except anthropic.NotFoundError as e:
        assert e.status_code == 404, f"status {e.status_code}"
        assert e.body["type"] == "error", f"body = {e.body!r}"
        assert e.body["error"]["type"] == "not_found_error", f"body = {e.body!r}"
        assert "no-such-model" in e.body["error"]["message"], f"body = {e.body!r}"
    else:
        raise AssertionError("an unknown model was answered")


@check
def bad_request_is_a_400():
    """a request without messages raises BadRequestError (invalid_request_error)"""
    try:
        client.messages.create(model=MODEL, max_tokens=16, messages=[])
    except anthropic.BadRequestError as e:
        assert e.body["error"]["type"] == "invalid_request_error", f"body = {e.body!r}"
    except anthropic.APIStatusError as e:
        raise AssertionError(f"{type(e).__name__} ({e.status_code}), want BadRequestError")
    else:
        raise AssertionError("a request without messages was answered")


def answers():
    """The gateway answers its liveness probe."""
    urllib.request.urlopen(f"{ROOT_URL}/healthz", timeout=1)


def main():
    print(f"anthropic {anthropic.__version__} against {ROOT_URL}/v1/messages, model {MODEL!r}")
    wait_for(answers, OSError, ROOT_URL, WAIT_SECS)
    return run(CHECKS)


if __name__ == "__main__":
    sys.exit(main())
