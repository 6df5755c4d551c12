"""Hardening checks that need a real process and raw sockets: silent clients, request-line tricks, logs."""

from __future__ import annotations

import json
import socket
import threading
from urllib.parse import urlparse

import httpx

from support import start_fake_upstream, start_tapedeck

BODY = json.dumps({"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": [{"role": "user", "content": "hello"}]})


def address(base_url: str) -> tuple[str, int]:
    parsed = urlparse(base_url)
    return parsed.hostname, parsed.port


def test_a_client_that_stalls_half_way_is_dropped_and_others_are_served():
    with start_tapedeck("--idle-timeout", "1") as server:
        with socket.create_connection(address(server.base_url), timeout=15) as stalled:
            stalled.sendall(b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{\"model\":")
            # The server closes the connection once it has been silent for a second: recv sees EOF.
            assert stalled.recv(4096) == b""
        r = httpx.post(f"{server.base_url}/v1/messages", content=BODY, headers={"content-type": "application/json"})
        assert r.status_code == 200, r.text


def test_the_request_line_cannot_point_record_mode_at_another_host():
    # A listener that fails the test if anything connects to it.
    trap = socket.socket()
    trap.bind(("127.0.0.1", 0))
    trap.listen(8)
    trap.settimeout(0.2)
    connected = []

    def watch():
        while not stop.is_set():
            try:
                conn, _ = trap.accept()
                connected.append(conn)
            except OSError:
                pass

    stop = threading.Event()
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        with start_fake_upstream() as fake, start_tapedeck("--mode", "record", "--upstream", fake.base_url, "--allow-upstream-in-ci") as server:
            trap_port = trap.getsockname()[1]
            host, port = address(server.base_url)
            request = (
                f"POST http://127.0.0.1:{trap_port}/v1/messages HTTP/1.1\r\nHost: 127.0.0.1:{trap_port}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(BODY)}\r\nConnection: close\r\n\r\n{BODY}"
            )
            with socket.create_connection((host, port), timeout=15) as sock:
                sock.sendall(request.encode())
                reply = b""
                while chunk := sock.recv(65536):
                    reply += chunk
            head = reply.split(b"\r\n\r\n", 1)[0].decode().lower()
            assert head.startswith("http/1.1 200"), head
            assert "tapedeck-source: proxied" in head
    finally:
        stop.set()
        watcher.join(timeout=5)
        trap.close()
    assert connected == [], "tapedeck connected to the host named in the request line"


def test_keys_never_reach_the_log():
    secret = "sk-ant-api03-" + "L" * 40
    with start_tapedeck("--log-level", "trace") as server:
        for headers in ({"x-api-key": secret}, {"authorization": f"Bearer {secret}"}):
            r = httpx.post(f"{server.base_url}/v1/messages", content=BODY, headers={"content-type": "application/json", **headers})
            assert r.status_code == 200
        log = server.output()
    assert "POST /v1/messages 200" in log, "the per-request log line is missing"
    assert secret not in log
    assert "L" * 40 not in log
