"""Shared by the scripted upstreams (standard library only): a quiet HTTP/1.1 handler with JSON
helpers, and the `main` that binds 127.0.0.1 on a free port, writes the port to the file named
by the first argument, and serves until killed.
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, status, content_type, payload):
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def send_json(self, status, value):
        self.send(status, "application/json", json.dumps(value).encode())

    def read_json(self):
        return json.loads(self.rfile.read(int(self.headers.get("content-length", "0"))) or b"{}")


def serve(handler):
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    with open(sys.argv[1], "w") as f:
        f.write(str(server.server_address[1]))
    server.serve_forever()
