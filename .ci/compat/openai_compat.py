#!/usr/bin/env python3
"""OpenAI Python SDK compatibility checks against a running Bulkhead gateway.

Proves that the official `openai` package works against Bulkhead by changing only its base
URL: plain and streamed chat completions, usage, tool calls, embeddings, the model list and
error mapping. The gateway must serve the model "simulated" (the embedded default config does).

Usage (the server must already be running):

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install openai
    cargo run -p bulkhead-server &
    /tmp/venv/bin/python .ci/compat/openai_compat.py

Environment:
    BULKHEAD_BASE_URL   the gateway's base URL (default http://127.0.0.1:8080/v1)
    BULKHEAD_API_KEY    a virtual key, if the gateway requires one (default "unused")
    BULKHEAD_WAIT_SECS  how long to wait for the gateway to answer first (default 15)

Prints one PASS/FAIL line per check and "N passed, M failed" last; exits 1 if any check failed.
"""

import json
import os
import sys

import openai
from _checks import Checks, run, user, wait_for
from openai import OpenAI

BASE_URL = os.environ.get("BULKHEAD_BASE_URL", "http://127.0.0.1:8080/v1")
API_KEY = os.environ.get("BULKHEAD_API_KEY") or "unused"
WAIT_SECS = float(os.environ.get("BULKHEAD_WAIT_SECS", "15"))
MODEL = "simulated"
PROMPT = "Say something about gateways in one sentence."

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "The city name."}},
            "required": ["city"],
        },
    },
}

# No retries: a failure must show up as the failure it is, not as a slow pass.
client = OpenAI(base_url=BASE_URL, api_key=API_KEY, max_retries=0, timeout=30.0)

CHECKS = Checks()
check = CHECKS.check


def assert_usage(usage, where):
    assert usage is not None, f"{where}: usage is missing"
    assert usage.prompt_tokens > 0, f"{where}: prompt_tokens = {usage.prompt_tokens}, want > 0"
    assert usage.completion_tokens > 0, (
        f"{where}: completion_tokens = {usage.completion_tokens}, want > 0"
    )
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens, (
        f"{where}: total_tokens {usage.total_tokens} != prompt {usage.prompt_tokens}"
        f" + completion {usage.completion_tokens}"
    )


def plain_text(prompt):
    response = client.chat.completions.create(model=MODEL, messages=user(prompt))
    return response.choices[0].message.content


@check
def chat_completion():
    """a plain chat completion has content, usage and the right object type"""
    response = client.chat.completions.create(model=MODEL, messages=user(PROMPT))
    assert response.object == "chat.completion", (
        f'object = {response.object!r}, want "chat.completion"'
    )
    assert response.id, "the completion has no id"
    assert len(response.choices) == 1, f"{len(response.choices)} choices, want 1"
    choice = response.choices[0]
    assert choice.message.role == "assistant", f"role = {choice.message.role!r}"
    assert choice.message.content, "the answer's content is empty"
    assert choice.finish_reason == "stop", f"finish_reason = {choice.finish_reason!r}"
    assert_usage(response.usage, "chat completion")


@check
def chat_completion_is_deterministic():
    """the simulated model answers the same prompt with the same text"""
    first, second = plain_text(PROMPT), plain_text(PROMPT)
    assert first == second, f"two answers differ:\n  {first!r}\n  {second!r}"


@check
def streamed_chat_completion():
    """a streamed answer arrives in chunks whose text equals the non-streamed answer"""
    expected = plain_text(PROMPT)
    stream = client.chat.completions.create(model=MODEL, messages=user(PROMPT), stream=True)
    chunks = list(stream)
    assert len(chunks) > 1, f"{len(chunks)} chunk(s), want several"
    for chunk in chunks:
        assert chunk.object == "chat.completion.chunk", f"chunk object = {chunk.object!r}"
        assert chunk.usage is None, "usage arrived without stream_options.include_usage"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == expected, f"streamed text differs:\n  stream: {text!r}\n  json:   {expected!r}"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"], f"finish reasons {finishes!r}, want ['stop'] once"


@check
def streamed_usage():
    """with stream_options.include_usage the last chunk carries the usage and no choices"""
    stream = client.chat.completions.create(
        model=MODEL,
        messages=user(PROMPT),
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks, "no chunks arrived"
    last = chunks[-1]
    assert last.choices == [], f"the usage chunk has {len(last.choices)} choice(s), want none"
    assert_usage(last.usage, "last chunk")
    earlier = [c for c in chunks[:-1] if c.usage is not None]
    assert not earlier, f"{len(earlier)} chunk(s) before the last carry usage"


@check
def tool_call():
    """tool_choice "required" yields a get_weather call with JSON arguments holding "city\""""
    response = client.chat.completions.create(
        model=MODEL,
        messages=user("What is the weather in Paris?"),
        tools=[WEATHER_TOOL],
        tool_choice="required",
    )
    choice = response.choices[0]
    assert choice.finish_reason == "tool_calls", (
        f'finish_reason = {choice.finish_reason!r}, want "tool_calls"'
    )
    calls = choice.message.tool_calls
    assert calls, "the message has no tool_calls"
    call = calls[0]
    assert call.type == "function", f"tool call type = {call.type!r}"
    assert call.id, "the tool call has no id"
    assert call.function.name == "get_weather", f"function name = {call.function.name!r}"
    try:
        arguments = json.loads(call.function.arguments)
    except json.JSONDecodeError as e:
        raise AssertionError(f"arguments are not JSON ({e}): {call.function.arguments!r}")
    assert isinstance(arguments, dict) and "city" in arguments, (
        f'arguments {arguments!r} lack the required "city"'
    )


@check
def streamed_tool_call():
    """a streamed tool call's argument fragments join into JSON holding "city\""""
    stream = client.chat.completions.create(
        model=MODEL,
        messages=user("What is the weather in Paris?"),
        tools=[WEATHER_TOOL],
        tool_choice="required",
        stream=True,
    )
    name, fragments, finish = "", [], None
    for chunk in stream:
        if not chunk.choices:
            continue
        choice = chunk.choices[0]
        for call in choice.delta.tool_calls or []:
            if call.function and call.function.name:
                name += call.function.name
            if call.function and call.function.arguments:
                fragments.append(call.function.arguments)
        finish = choice.finish_reason or finish
    assert name == "get_weather", f"function name = {name!r}"
    assert finish == "tool_calls", f'finish_reason = {finish!r}, want "tool_calls"'
    arguments = "".join(fragments)
    try:
        parsed = json.loads(arguments)
    except json.JSONDecodeError as e:
        raise AssertionError(f"joined arguments are not JSON ({e}): {arguments!r}")
    assert "city" in parsed, f'arguments {parsed!r} lack the required "city"'


@check
def embedding():
    """an embedding has a non-empty vector, and the same input gives the same vector"""
    # The SDK asks for base64 by default and decodes it; both encodings must work.
    first = client.embeddings.create(model=MODEL, input="hello gateway")
    second = client.embeddings.create(model=MODEL, input="hello gateway", encoding_format="float")
    assert first.object == "list", f'object = {first.object!r}, want "list"'
    assert len(first.data) == 1, f"{len(first.data)} vectors for one input"
    vector = first.data[0].embedding
    assert len(vector) > 0, "the vector is empty"
    assert all(isinstance(x, float) for x in vector), "the vector holds non-floats"
    other = second.data[0].embedding
    assert len(other) == len(vector), f"lengths differ: {len(vector)} vs {len(other)}"
    assert all(abs(a - b) < 1e-6 for a, b in zip(vector, other)), (
        "the same input gave different vectors"
    )


@check
def embedding_batch():
    """a batch of inputs gives one vector each, in input order"""
    batch = client.embeddings.create(model=MODEL, input=["alpha", "beta"], encoding_format="float")
    assert [d.index for d in batch.data] == [0, 1], f"indices {[d.index for d in batch.data]!r}"
    alone = client.embeddings.create(model=MODEL, input="beta", encoding_format="float")
    assert batch.data[1].embedding == alone.data[0].embedding, (
        "the second vector of the batch differs from embedding its input alone"
    )
    assert batch.data[0].embedding != batch.data[1].embedding, "different inputs, same vector"


@check
def models_list():
    """the model list includes "simulated\""""
    ids = [m.id for m in client.models.list()]
    assert MODEL in ids, f"{MODEL!r} not in the model list {ids!r}"


@check
def unknown_model():
    """an unknown model raises openai.NotFoundError (404) for chat and embeddings"""
    for name, call in [
        ("chat", lambda: client.chat.completions.create(model="no-such-model", messages=user("hi"))),
        ("embeddings", lambda: client.embeddings.create(model="no-such-model", input="hi")),
    ]:
        try:
            call()
        except openai.NotFoundError as e:
            assert e.status_code == 404, f"{name}: status {e.status_code}, want 404"
            assert "no-such-model" in str(e), f"{name}: the message does not name the model: {e}"
        except openai.APIStatusError as e:
            raise AssertionError(f"{name}: {type(e).__name__} ({e.status_code}), want NotFoundError")
        else:
            raise AssertionError(f"{name}: an unknown model was answered")


@check
def bad_request():
    """a request without messages raises openai.BadRequestError (400)"""
    try:
        client.post("/chat/completions", body={"model": MODEL}, cast_to=object)
    except openai.BadRequestError as e:
        assert e.status_code == 400, f"status {e.status_code}, want 400"
    except openai.APIStatusError as e:
        raise AssertionError(f"{type(e).__name__} ({e.status_code}), want BadRequestError")
    else:
        raise AssertionError("a request without messages was answered")


def answers():
    """The gateway answers at all (an error status is an answer: the checks say what is wrong)."""
    try:
        client.models.list()
    except openai.APIStatusError:
        pass


def main():
    print(f"openai {openai.__version__} against {BASE_URL}")
    wait_for(answers, openai.APIConnectionError, BASE_URL, WAIT_SECS)
    return run(CHECKS)


if __name__ == "__main__":
    sys.exit(main())
