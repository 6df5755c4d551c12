#!/usr/bin/env python3
"""Measures the replay cache's memory cap: replays a cassette far larger than the cache and watches RSS.

Usage: cache_memory.py BIN_DIR [--count N] [--kib K]
Fills a cassette with N distinct JSON recordings of about K KiB each (default 400 x 512 KiB = 200 MiB), replays
each twice in replay mode, and prints the server's RSS before and after. The prepared-answer cache is bounded by
`Limits.preparedAnswerBytes` (64 MiB): RSS should grow by about that much, never by the cassette's size.
"""
import argparse, json, os, sqlite3, sys, tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_cassette  # noqa: E402
from bench import Server, post  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bin")
    ap.add_argument("--count", type=int, default=400)
    ap.add_argument("--kib", type=int, default=512)
    args = ap.parse_args()
    binary = os.path.join(args.bin, "tapedeck")
    with tempfile.TemporaryDirectory(prefix="tapedeck-cache-") as directory:
        path = os.path.join(directory, "big.sqlite")
        gen_cassette.create_schema(binary, path)
        padding = "x" * (args.kib * 1024)
        db = sqlite3.connect(path)
        for i in range(args.count):
            req = gen_cassette.request(i)
            body = json.dumps(req, separators=(",", ":")).encode()
            message = gen_cassette.message(i)
            message["content"][0]["text"] = padding
            db.execute(
                """INSERT INTO interaction (recorded_at, method, path, query, fingerprint, occurrence, request_headers,
                   request_body, status, response_headers, response_body, is_stream, events, message, model)
                   VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)""",
                ("2026-01-01T00:00:00Z", "POST", "/v1/messages", None, gen_cassette.fingerprint("POST", "/v1/messages", req), 1,
                 "[]", body, 200, json.dumps([["content-type", "application/json"]]),
                 json.dumps(message, separators=(",", ":")).encode(), 0, None, None, "claude-sonnet-4-5"))
        db.commit()
        db.close()
        server = Server([binary, "serve", "--port", "0", "--cassette", path, "--log-level", "warning", "--on-miss", "error"])
        try:
            before = server.rss_mb()
            for _ in range(2):
                for i in range(args.count):
                    status, _, _ = post(server.port, json.dumps(gen_cassette.request(i)).encode())
                    assert status == 200, status
            after = server.rss_mb()
        finally:
            server.stop()
        total = args.count * args.kib / 1024
        print(f"replayed {args.count} recordings of {args.kib} KiB ({total:.0f} MiB) twice: "
              f"RSS {before:.1f} MB before, {after:.1f} MB after (+{after - before:.1f} MB; cache cap 64 MiB)")


if __name__ == "__main__":
    main()
