"""Test support beyond the emulator (`emulator.testing`)."""

NORTH_SECRET = "north-secret-5d1e"  # the webhook secret of the second portal's emulator


class AlertReceiver:
    """A local HTTP endpoint that records the bodies POSTed to it (an alert webhook, a portal's
    event handler): `raw`, `json` for a JSON body, `form` for a form-encoded one."""

    def __init__(self) -> None:
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import parse_qsl

        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                kind = self.headers.get_content_type()
                received.append({
                    "raw": body.decode(),
                    "json": json.loads(body) if kind == "application/json" else None,
                    "form": dict(parse_qsl(body.decode())) if "form" in kind else None,
                })
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
