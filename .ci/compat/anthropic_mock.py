#!/usr/bin/env python3
"""A scripted Anthropic-format upstream for the compat checks (standard library only).

Serves POST /v1/messages. A streamed request gets TEXT_PARTS as text_delta events; a streamed
request with tools gets "Let me check." and then a tool_use block whose input arrives as the
JSON_PARTS input_json_delta fragments. A non-streamed request gets the joined text.

    python3 .ci/compat/anthropic_mock.py PORT_FILE

binds 127.0.0.1 on a free port, writes the port to PORT_FILE, and serves until killed.
"""

import json

import _mock_server

MODEL = "claude-mock-1"
TEXT_PARTS = ["Hel", "lo, ", "wörld", " — ", "naïve ✓"]
TOOL_TEXT = "Let me check."
JSON_PARTS = ['{"ci', 'ty": "Par', 'is, Fr', 'ance", "days": [1, ', "2]}"]
USAGE = {"input_tokens": 12, "output_tokens": 7}


def event(payload):
    return f"event: {payload['type']}\ndata: {json.dumps(payload)}\n\n"


def stream(tool):
    start = {"id": "msg_mock", "type": "message", "role": "assistant", "model": MODEL,
             "content": [], "stop_reason": None, "stop_sequence": None,
             "usage": {"input_tokens": 12, "output_tokens": 1}}
    out = [event({"type": "message_start", "message": start}), event({"type": "ping"})]
    text = [TOOL_TEXT] if tool else TEXT_PARTS
    out.append(event({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}))
    out += [event({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": t}}) for t in text]
    out.append(event({"type": "content_block_stop", "index": 0}))
    if tool:
        block = {"type": "tool_use", "id": "toolu_mock_1", "name": tool, "input": {}}
        out.append(event({"type": "content_block_start", "index": 1, "content_block": block}))
        out += [event({"type": "content_block_delta", "index": 1,
                       "delta": {"type": "input_json_delta", "partial_json": j}}) for j in JSON_PARTS]
        out.append(event({"type": "content_block_stop", "index": 1}))
    reason = "tool_use" if tool else "end_turn"
    out.append(event({"type": "message_delta", "delta": {"stop_reason": reason, "stop_sequence": None},
                      "usage": {"output_tokens": 7}}))
    out.append(event({"type": "message_stop"}))
    return "".join(out).encode()


class Handler(_mock_server.Handler):
    def do_POST(self):
        body = self.read_json()
        if self.path.rstrip("/") != "/v1/messages":
            error = {"type": "error", "error": {"type": "not_found_error", "message": f"no {self.path}"}}
            return self.send_json(404, error)
        tools = body.get("tools") or []
        if body.get("stream"):
            return self.send(200, "text/event-stream", stream(tools[0]["name"] if tools else None))
        message = {"id": "msg_mock", "type": "message", "role": "assistant", "model": MODEL,
                   "content": [{"type": "text", "text": "".join(TEXT_PARTS)}],
                   "stop_reason": "end_turn", "stop_sequence": None, "usage": USAGE}
        self.send_json(200, message)


if __name__ == "__main__":
    _mock_server.serve(Handler)
