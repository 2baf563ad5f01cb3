#!/usr/bin/env python3
"""A tgpulse webhook receiver that verifies every delivery (Python 3 standard library only).

tgpulse signs each delivery with
    X-Tgpulse-Timestamp: <unix seconds>
    X-Tgpulse-Signature: sha256=<hex of HMAC-SHA256(secret, timestamp + "." + body)>
verify() below is all a receiver needs: it refuses a body whose signature does not match (a forgery)
and a timestamp outside the replay window (a replay), comparing in constant time. Answer 2xx only after
the updates are safely handled: anything else, or no answer, makes tgpulse deliver them again.

    python3 webhook_receiver.py --secret "$WEBHOOK_SECRET" --port 8080
"""
import argparse
import hashlib
import hmac
import http.server
import json
import time

REPLAY_WINDOW_SECONDS = 300
MAX_BODY_BYTES = 8 * 1024 * 1024


def verify(secret: bytes, timestamp: str, signature: str, body: bytes, now: float) -> bool:
    """True when `body` was signed by tgpulse with `secret` less than REPLAY_WINDOW_SECONDS ago."""
    if not timestamp.isdigit() or len(timestamp) > 18:
        return False
    if abs(now - int(timestamp)) > REPLAY_WINDOW_SECONDS:
        return False
    expected = "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


def make_handler(secret: bytes, handle_updates):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            length = self.headers.get("Content-Length", "")
            length = int(length) if length.isdigit() else -1
            if length < 0 or length > MAX_BODY_BYTES:
                self.send_response(413)
                self.end_headers()
                return
            body = self.rfile.read(length)
            if not verify(secret, self.headers.get("X-Tgpulse-Timestamp", ""),
                          self.headers.get("X-Tgpulse-Signature", ""), body, time.time()):
                self.send_response(401)
                self.end_headers()
                return
            handle_updates(json.loads(body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, fmt, *args):  # one line per request, never the headers
            print("%s %s" % (self.address_string(), fmt % args), flush=True)

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--secret", required=True, help="the webhook secret given to tgpulse")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    parser.add_argument("--max-requests", type=int, default=0, help="exit after this many requests (0: never)")
    args = parser.parse_args()

    def handle_updates(payload):
        for update in payload.get("updates", []):
            print("update", update.get("update_id"), flush=True)

    server = http.server.HTTPServer((args.host, args.port), make_handler(args.secret.encode(), handle_updates))
    print("listening on %s:%d" % server.server_address[:2], flush=True)
    if args.max_requests:
        for _ in range(args.max_requests):
            server.handle_request()
    else:
        server.serve_forever()


if __name__ == "__main__":
    main()
