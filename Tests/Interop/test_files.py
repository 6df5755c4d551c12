"""The Files API (issue 19): upload, list, metadata, download, delete and `file_id` references, with both SDK
generations (2.x: `client.files`, `/v1/files`, page cursors; 0.75: `client.beta.files`, `?beta=true`, the
`files-api-2025-04-14` beta header, `after_id` / `before_id`), in synthesis, recorded through the fake upstream
and replayed offline; bad uploads leave the cassette untouched."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import anthropic
import httpx
import pytest

from support import MODEL, REQUEST_TIMEOUT, SDK_MAJOR, dump, start_fake_upstream, start_tapedeck, tapedeck_binary

PDF = b"%PDF-1.4\n% a tiny test document\n" + bytes(range(256)) * 4


def files_of(client: anthropic.Anthropic):
    return client.files if SDK_MAJOR >= 2 else client.beta.files


def file_rows(cassette: Path) -> tuple[int, int, int]:
    """(files, blobs, chunks) in the cassette; zeros when it has no file tables yet."""
    if not cassette.exists():
        return (0, 0, 0)
    with sqlite3.connect(f"file:{cassette}?mode=ro", uri=True) as db:
        try:
            return tuple(db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("file", "file_blob", "file_chunk"))
        except sqlite3.OperationalError:
            return (0, 0, 0)


def ask_about(client: anthropic.Anthropic, file_id: str, kind: str = "document"):
    return client.messages.create(
        model=MODEL,
        max_tokens=64,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": kind, "source": {"type": "file", "file_id": file_id}},
                    {"type": "text", "text": "What is in this file?"},
                ],
            }
        ],
    )


def test_the_files_lifecycle_in_synthesis(tmp_path: Path) -> None:
    with start_tapedeck(env={"TMPDIR": str(tmp_path)}) as server, server.client() as client:
        files = files_of(client)
        first = files.upload(file=("report.pdf", PDF, "application/pdf"))
        assert first.id.startswith("file_01") and first.type == "file"
        assert (first.filename, first.mime_type, first.size_bytes) == ("report.pdf", "application/pdf", len(PDF))
        assert first.downloadable is False, "uploads are not downloadable, as on the real API"
        # Deterministic: the same content and name in a fresh run give the same id (checked below by replay);
        # another name is another file, and the same bytes are stored once.
        second = files.upload(file=("notes.txt", b"some notes", "text/plain"))
        third = files.upload(file=("copy.pdf", PDF, "application/pdf"))
        assert len({first.id, second.id, third.id}) == 3
        assert file_rows(server.cassette) == (3, 2, 2)

        assert dump(files.retrieve_metadata(first.id)) == dump(first)
        listed = [f.id for f in files.list()]
        assert listed == [third.id, second.id, first.id], "newest first"
        paged = files.list(limit=2)
        assert [f.id for f in paged.data] == [third.id, second.id]
        assert [f.id for f in paged] == listed, "the SDK's auto-pagination walks every page"

        if SDK_MAJOR >= 2:
            chosen = files.list(ids=[first.id, "file_01NotThereNotThereNotThe"])
            assert [f.id for f in chosen.data] == [first.id] and chosen.next_page is None

        with pytest.raises(anthropic.BadRequestError) as info:
            files.download(first.id)
        assert info.value.body["error"]["details"]["error_code"] == "file_not_downloadable"

        message = ask_about(client, first.id)
        assert message.content[0].type == "text" and message.content[0].text
        with pytest.raises(anthropic.NotFoundError) as missing:
            ask_about(client, "file_01NoSuchFileNoSuchFile12")
        assert missing.value.body["error"]["message"] == "File not found: file_01NoSuchFileNoSuchFile12"

        deleted = files.delete(second.id)
        assert (deleted.id, deleted.type) == (second.id, "file_deleted")
        with pytest.raises(anthropic.NotFoundError) as gone:
            files.retrieve_metadata(second.id)
        assert gone.value.body["error"]["message"] == f"File not found: {second.id}"
        assert [f.id for f in files.list()] == [third.id, first.id]
        with pytest.raises(anthropic.NotFoundError):
            ask_about(client, second.id)
        kept = httpx.get(server.base_url + "/_tapedeck/files", timeout=REQUEST_TIMEOUT).json()
        assert [(f["metadata"]["id"], f["deleted"]) for f in kept["data"]] == [(third.id, False), (second.id, True), (first.id, False)]
        # The inspector's Files tab lists the same files, the deleted one marked.
        page = httpx.get(server.base_url + "/_tapedeck/ui/files", timeout=REQUEST_TIMEOUT)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        rows = page.text.split('<tr class="file">')[1:]
        assert [next(i for i in (first.id, second.id, third.id) if i in row) for row in rows] == [third.id, second.id, first.id]
        assert "deleted" in rows[1] and "live" in rows[0]
    assert list(tmp_path.glob("tapedeck-upload-*")) == [], "no temporary upload file is left behind"


def test_downloadable_uploads_stream_back_byte_for_byte() -> None:
    big = bytes(range(256)) * 9000  # over two of the store's 1 MiB chunks
    with start_tapedeck("--downloadable-uploads") as server, server.client() as client:
        files = files_of(client)
        uploaded = files.upload(file=("data.bin", big, "application/octet-stream"))
        assert uploaded.downloadable is True
        content = files.download(uploaded.id)
        assert content.read() == big
        assert content.headers["content-type"] == "application/octet-stream"


def scenario(client: anthropic.Anthropic) -> list:
    """One app's use of the Files API, as comparable plain values (errors as their status codes)."""
    files = files_of(client)
    out: list = []
    report = files.upload(file=("report.pdf", PDF, "application/pdf"))
    notes = files.upload(file=("notes.txt", b"notes", "text/plain"))
    out += [dump(report), dump(notes), [dump(f) for f in files.list()], dump(files.retrieve_metadata(report.id))]
    out.append(dump(ask_about(client, report.id)))
    try:
        files.download(report.id)
        out.append("downloaded")
    except anthropic.APIStatusError as e:
        out.append(e.status_code)
    out.append(dump(files.delete(notes.id)))
    out.append([f.id for f in files.list()])
    return out


def test_record_through_the_fake_upstream_then_replay_offline_identically(tmp_path: Path) -> None:
    cassette = tmp_path / "files.sqlite"
    with start_fake_upstream() as fake:
        with start_tapedeck(
            "--mode", "record", "--upstream", fake.base_url, "--cassette", str(cassette), "--allow-upstream-in-ci",
            env={"TMPDIR": str(tmp_path)},
        ) as server, server.client() as client:
            recorded = scenario(client)
    assert list(tmp_path.glob("tapedeck-upload-*")) == [], "the spooled body forwarded upstream is removed too"
    # The upstream's ids, not Tapedeck's: the fake derives its own.
    assert recorded[0]["id"].startswith("file_") and recorded[5] == 400
    assert file_rows(cassette)[0] == 2, "both uploads kept, the deleted one marked"

    for _ in range(2):  # a replay run, and another: the deleted file comes back with its recorded id
        with start_tapedeck("--mode", "replay", "--cassette", str(cassette), "--on-miss", "error") as server:
            with server.client() as client:
                assert scenario(client) == recorded


def test_over_limit_and_truncated_uploads_leave_the_cassette_untouched(tmp_path: Path) -> None:
    with start_tapedeck("--max-file-bytes", "1000", env={"TMPDIR": str(tmp_path)}) as server, server.client() as client:
        files = files_of(client)
        kept = files.upload(file=("small.txt", b"x" * 1000, "text/plain"))
        before = file_rows(server.cassette)
        with pytest.raises(anthropic.APIStatusError) as info:
            files.upload(file=("big.txt", b"x" * 1001, "text/plain"))
        assert info.value.status_code == 413
        assert info.value.body["error"]["type"] == "request_too_large"
        # Far over the limit: refused while the body is still arriving, with the same clean 413.
        with pytest.raises(anthropic.APIStatusError) as far:
            files.upload(file=("huge.bin", b"x" * (8 << 20), "application/octet-stream"))
        assert far.value.status_code == 413

        body = (
            b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"cut.txt\"\r\n"
            b"Content-Type: text/plain\r\n\r\nhalf of a file"
        )
        with httpx.Client(base_url=server.base_url, timeout=REQUEST_TIMEOUT) as http:
            headers = {"x-api-key": "k", "content-type": "multipart/form-data; boundary=B"}
            cut = http.post("/v1/files", content=body, headers=headers)
            no_file = http.post("/v1/files", content=b"--B\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nx\r\n--B--\r\n", headers=headers)
            not_multipart = http.post("/v1/files", json={"file": "x"}, headers={"x-api-key": "k"})
        assert cut.status_code == 400 and "closing boundary" in cut.json()["error"]["message"]
        assert no_file.status_code == 400 and no_file.json()["error"]["message"] == "file: Field required"
        assert not_multipart.status_code == 400
        assert file_rows(server.cassette) == before
        assert [f.id for f in files.list()] == [kept.id]
    assert list(tmp_path.glob("tapedeck-upload-*")) == []


def test_export_and_import_keep_files_losslessly(tmp_path: Path) -> None:
    binary = str(tapedeck_binary())
    with start_tapedeck("--downloadable-uploads") as server, server.client() as client:
        files = files_of(client)
        uploaded = files.upload(file=("blob.bin", bytes(range(256)) * 3, "application/octet-stream"))
        listed = [dump(f) for f in files.list()]
        source = server.cassette
        exported = subprocess.run([binary, "cassette", "export", str(source)], capture_output=True, timeout=60, check=True)
        stats = subprocess.run([binary, "cassette", "stats", str(source)], capture_output=True, timeout=60, check=True)
    assert "files: 1 (0 deleted), 1 distinct contents" in stats.stdout.decode()
    lines = exported.stdout.decode().splitlines()
    assert any(line.startswith('{"kind":"file"') and '"content_base64"' in line for line in lines)
    export_file = tmp_path / "export.jsonl"
    export_file.write_bytes(exported.stdout)
    copy = tmp_path / "copy.sqlite"
    subprocess.run([binary, "cassette", "import", str(export_file), "--into", str(copy)], capture_output=True, timeout=60, check=True)
    again = subprocess.run([binary, "cassette", "export", str(copy)], capture_output=True, timeout=60, check=True)
    assert again.stdout == exported.stdout, "import(export(c)) exports the same"
    with start_tapedeck("--cassette", str(copy), "--downloadable-uploads") as server, server.client() as client:
        files = files_of(client)
        assert [dump(f) for f in files.list()] == listed
        assert files.download(uploaded.id).read() == bytes(range(256)) * 3
