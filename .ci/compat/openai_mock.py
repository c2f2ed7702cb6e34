#!/usr/bin/env python3
"""A deterministic OpenAI-format upstream for the compat checks (standard library only).

Serves POST /v1/chat/completions, JSON or SSE. The answer is "Mock answer to: <last user
text>" one word per chunk; when the request forces a tool (`tool_choice` "required" or a named
function) it calls that tool (or the first) with every required property set to "Mockville".
Streams end with a usage chunk when `stream_options.include_usage` is set, then [DONE].

    python3 .ci/compat/openai_mock.py PORT_FILE

binds 127.0.0.1 on a free port, writes the port to PORT_FILE, and serves until killed.
"""

import json

import _mock_server

MODEL = "mock-upstream-1"


def last_text(messages):
    for message in reversed(messages):
        content = message.get("content")
        if isinstance(content, list):
            content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
        if message.get("role") in ("user", "tool") and content:
            return message["role"], content
    return "user", ""


def forced_tool(body):
    tools = [t["function"] for t in body.get("tools") or [] if t.get("type") == "function"]
    choice = body.get("tool_choice")
    if not tools or choice in (None, "none", "auto"):
        return None
    if isinstance(choice, dict):
        wanted = choice.get("function", {}).get("name")
        tools = [t for t in tools if t["name"] == wanted] or tools
    tool = tools[0]
    required = (tool.get("parameters") or {}).get("required") or []
    return {"id": "call_mock_1", "name": tool["name"],
            "arguments": json.dumps({name: "Mockville" for name in required})}


class Handler(_mock_server.Handler):
    def do_POST(self):
        body = self.read_json()
        if self.path.rstrip("/") != "/v1/chat/completions":
            error = {"error": {"message": f"Unknown request URL: POST {self.path}",
                               "type": "invalid_request_error", "param": None, "code": "unknown_url"}}
            return self.send_json(404, error)
        role, text = last_text(body.get("messages") or [])
        answer = ("Mock answer after tool: " if role == "tool" else "Mock answer to: ") + text
        words = answer.split(" ")
        words = [w + " " for w in words[:-1]] + words[-1:]
        call = forced_tool(body)
        usage = {"prompt_tokens": max(1, len(text.split())), "completion_tokens": len(words)}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        base = {"id": "chatcmpl-mock", "created": 1700000000, "model": MODEL}
        if not body.get("stream"):
            message = {"role": "assistant", "content": None if call else answer}
            if call:
                message["tool_calls"] = [{"id": call["id"], "type": "function",
                                          "function": {"name": call["name"], "arguments": call["arguments"]}}]
            finish = "tool_calls" if call else "stop"
            out = dict(base, object="chat.completion",
                       choices=[{"index": 0, "message": message, "finish_reason": finish}], usage=usage)
            return self.send_json(200, out)

        def chunk(delta, finish=None):
            return dict(base, object="chat.completion.chunk",
                        choices=[{"index": 0, "delta": delta, "finish_reason": finish}])

        chunks = [chunk({"role": "assistant", "content": ""})]
        if call:
            half = len(call["arguments"]) // 2
            chunks.append(chunk({"tool_calls": [{"index": 0, "id": call["id"], "type": "function",
                                                 "function": {"name": call["name"], "arguments": call["arguments"][:half]}}]}))
            chunks.append(chunk({"tool_calls": [{"index": 0, "function": {"arguments": call["arguments"][half:]}}]}))
            chunks.append(chunk({}, "tool_calls"))
        else:
            chunks += [chunk({"content": w}) for w in words]
            chunks.append(chunk({}, "stop"))
        if (body.get("stream_options") or {}).get("include_usage"):
            chunks.append(dict(base, object="chat.completion.chunk", choices=[], usage=usage))
        payload = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
        self.send(200, "text/event-stream", payload.encode())


if __name__ == "__main__":
    _mock_server.serve(Handler)
