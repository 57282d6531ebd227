"""Real receivers on 127.0.0.1 for delivery tests: an HTTP server and an SMTP server.

The HTTP receiver stores each request body (JSON, or a write-back CSV with the object it is
for) under its idempotency key (once: a repeat is
acknowledged and dropped, as a deduplicating receiver does), verifies webhook signatures with
its own HMAC code, and can be told to fail the next requests with a status or by stalling past
the client's timeout. The SMTP receiver (aiosmtpd) stores messages by Message-ID and can refuse
the next ones with 451.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from collections import Counter
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

SECRET = b"test-webhook-secret"


def expected_signature(ts: str, body: bytes) -> str:
    """Independent of revops.automation.signing: the documented scheme, written again."""
    return "sha256=" + hmac.new(SECRET, ts.encode() + b"." + body, hashlib.sha256).hexdigest()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class HttpReceiver:
    def __init__(self, port: int = 0, stall_seconds: float = 2.0) -> None:
        self.store: dict[str, Any] = {}
        self.received: Counter[str] = Counter()
        self.failures: list[str] = []  # "500", "503", "stall", "400" for the next requests
        self.fail_keys: dict[str, str] = {}  # idempotency key -> status, on every request
        self.bad_signatures = 0
        self.stall_seconds = stall_seconds
        self.delay_seconds = 0.0  # every request takes this long before it is stored
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                key = self.headers.get("X-Revops-Idempotency-Key", "")
                with receiver.lock:
                    fail = receiver.failures.pop(0) if receiver.failures else None
                    fail = receiver.fail_keys.get(key, fail)
                time.sleep(receiver.delay_seconds)
                if fail == "stall":
                    time.sleep(receiver.stall_seconds)
                    fail = None
                if fail is not None:
                    self.send_response(int(fail))
                    self.end_headers()
                    return
                ts = self.headers.get("X-Revops-Timestamp")
                if ts is not None:
                    sig = self.headers.get("X-Revops-Signature", "")
                    fresh = abs(time.time() - int(ts)) <= 300
                    if not (fresh and hmac.compare_digest(sig, expected_signature(ts, body))):
                        with receiver.lock:
                            receiver.bad_signatures += 1
                        self.send_response(401)
                        self.end_headers()
                        return
                with receiver.lock:
                    receiver.received[key] += 1
                    if self.headers.get("Content-Type", "").startswith("text/csv"):
                        stored: Any = {
                            "object": self.headers.get("X-Revops-Object"),
                            "csv": body.decode("utf-8"),
                        }
                    else:
                        stored = json.loads(body)
                    receiver.store.setdefault(key, stored)
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Handler:
    def __init__(self) -> None:
        self.store: dict[str, Any] = {}
        self.received: Counter[str] = Counter()
        self.refuse = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse:
            self.refuse -= 1
            return "451 try again later"
        msg = message_from_bytes(envelope.content)
        key = str(msg["Message-ID"])
        self.received[key] += 1
        self.store.setdefault(key, {"to": msg["To"], "subject": msg["Subject"]})
        return "250 OK"


class SmtpReceiver:
    def __init__(self) -> None:
        self.handler = _Handler()
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    @property
    def store(self) -> dict[str, Any]:
        return self.handler.store

    @property
    def received(self) -> Counter[str]:
        return self.handler.received

    def close(self) -> None:
        self.controller.stop()
