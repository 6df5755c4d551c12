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


def test_headers_over_the_limit_get_the_envelope_and_the_server_carries_on():
    with start_tapedeck() as server:
        host, port = address(server.base_url)
        with socket.create_connection((host, port), timeout=15) as sock:
            sock.sendall(b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n")
            reply = b""
            while chunk := sock.recv(65536):
                reply += chunk
        head, _, body = reply.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 400"), head
        error = json.loads(body)
        assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error", error
        assert "headers are too large" in error["error"]["message"], error
        r = httpx.post(f"{server.base_url}/v1/messages", content=BODY, headers={"content-type": "application/json"})
        assert r.status_code == 200, r.text


# ---------------------------------------------------------------------------------------------------------------
# A cassette that cannot be written: a full disk, a read-only file system. Both need a small tmpfs, so root.
# ---------------------------------------------------------------------------------------------------------------

import contextlib
import os
import subprocess
import tempfile
from pathlib import Path

import anthropic
import pytest

from support import fake_upstream_binary, tapedeck_binary, user


@contextlib.contextmanager
def small_filesystem(size: str, read_only: bool = False):
    """A fresh tmpfs of `size` mounted on a temporary directory (skips when this process may not mount)."""
    with tempfile.TemporaryDirectory(prefix="tapedeck-fs-") as mountpoint:
        options = f"size={size}" + (",ro" if read_only else "")
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", mountpoint], capture_output=True, text=True)
        if mounted.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip() or 'not root'}); the disk-full test needs one")
        try:
            yield Path(mountpoint)
        finally:
            subprocess.run(["umount", "-l", mountpoint], capture_output=True)


def fill(directory: Path) -> Path:
    """Writes a file until the file system is full; returns it (delete it to free the space)."""
    filler = directory / "filler"
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    return filler


def test_a_full_disk_is_a_clear_error_and_the_server_keeps_serving_what_it_can():
    with small_filesystem("2m") as fs, start_fake_upstream() as fake, start_tapedeck(
        "--mode", "auto", "--upstream", fake.base_url, "--allow-upstream-in-ci", "--cassette", str(fs / "c.sqlite")
    ) as server:
        client = server.client(max_retries=2)
        kept = client.messages.create(model="claude-sonnet-4-5", max_tokens=64, messages=user("recorded before the disk filled"))
        filler = fill(fs)

        # A new answer cannot be kept: the client is told so, plainly, and the SDK does not retry (x-should-retry).
        with pytest.raises(anthropic.InternalServerError) as raised:
            client.messages.create(model="claude-sonnet-4-5", max_tokens=64, messages=user("asked while the disk is full"))
        error = raised.value
        assert error.status_code == 500 and error.response.headers.get("x-should-retry") == "false"
        message = error.body["error"]["message"] if isinstance(error.body, dict) and "error" in error.body else str(error)
        assert "could not save this recording" in message and "full" in message, message
        assert "ould not save" in server.wait_for_output("could not save", "Could not save")

        # A stream's end becomes an error event: the SDK raises instead of reporting success.
        with pytest.raises(anthropic.APIStatusError) as raised:
            with client.messages.stream(model="claude-sonnet-4-5", max_tokens=64, messages=user("a stream while full")) as stream:
                for _ in stream:
                    pass
        assert "could not save this recording" in str(raised.value)

        # What is recorded still replays.
        again = client.messages.create(model="claude-sonnet-4-5", max_tokens=64, messages=user("recorded before the disk filled"))
        assert again.model_dump() == kept.model_dump()

        # Space back: recording works again.
        filler.unlink()
        later = client.messages.create(model="claude-sonnet-4-5", max_tokens=64, messages=user("asked after space was freed"))
        assert later.content
        replayed = httpx.get(f"{server.base_url}/_tapedeck/journal").json()["data"][-1]
        assert replayed["source"] == "proxied" and replayed["status"] == 200, replayed


def test_a_read_only_cassette_replays_but_cannot_be_recorded_into():
    with tempfile.TemporaryDirectory() as staging:
        # Record one answer on a writable disk, then serve it from a read-only file system.
        cassette = Path(staging) / "c.sqlite"
        with start_fake_upstream() as fake, start_tapedeck(
            "--mode", "record", "--upstream", fake.base_url, "--allow-upstream-in-ci", "--cassette", str(cassette)
        ) as server:
            recorded = server.client().messages.create(model="claude-sonnet-4-5", max_tokens=64, messages=user("keep me"))
        with small_filesystem("4m") as fs:
            subprocess.run(["cp", str(cassette), str(fs / "c.sqlite")], check=True)
            subprocess.run(["mount", "-o", "remount,ro", str(fs)], check=True)
            with start_tapedeck("--cassette", str(fs / "c.sqlite"), "--on-miss", "error") as server:
                replayed = server.client().messages.create(model="claude-sonnet-4-5", max_tokens=64, messages=user("keep me"))
                assert replayed.model_dump() == recorded.model_dump()
            for mode in ("record", "auto"):
                started = subprocess.run(
                    [str(tapedeck_binary()), "serve", "--mode", mode, "--allow-upstream-in-ci",
                     "--port", "0", "--cassette", str(fs / "c.sqlite")],
                    capture_output=True, text=True, timeout=30)
                assert started.returncode == 2, (mode, started.returncode, started.stdout, started.stderr)
                assert "c.sqlite" in started.stderr and "read-only" in started.stderr.lower(), started.stderr


@pytest.mark.parametrize("program", ["tapedeck", "fake upstream"])
def test_a_port_already_taken_is_one_line_and_a_failing_exit(program: str):
    # Another process holds the port: starting must fail at once with a sentence, not hang or print a backtrace.
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        if program == "tapedeck":
            argv = [str(tapedeck_binary()), "serve", "--port", str(port)]
        else:
            argv = [str(fake_upstream_binary()), "--port", str(port)]
        with tempfile.TemporaryDirectory() as cwd:  # no cassette is left behind in the checkout
            started = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert started.returncode == 1, (started.returncode, started.stdout, started.stderr)
    lines = started.stderr.strip().splitlines()
    assert len(lines) == 1, started.stderr
    assert str(port) in lines[0] and "in use" in lines[0].lower(), lines[0]
    assert "backtrace" not in started.stderr.lower() and "at top level" not in started.stderr, started.stderr
