import Crypto
import Foundation
import GRDB
import MessagesAPI
import TapedeckTestSupport
import Testing

@testable import Cassette

/// Files kept in the cassette: content-addressed chunks, one row per upload, export lines.
@Suite("Files in a cassette")
struct FileStoreTests {
    static func sha(_ bytes: [UInt8]) -> String { SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined() }

    static func file(_ id: String, content: [UInt8], key: String = "k", occurrence: Int = 1, created: String = "2025-04-14T00:00:00Z")
        -> StoredFile
    {
        StoredFile(
            id: id, sha256: sha(content), filename: "f.bin", mimeType: "application/octet-stream", sizeBytes: content.count,
            createdAt: created, uploadKey: key, occurrence: occurrence, metadata: ["id": .string(id), "type": "file"])
    }

    @Test func contentIsKeptOnceAndChunked() async throws {
        try await withTemporaryDirectory { directory in
            let store = try CassetteStore(path: directory.file("c.sqlite"))
            let big = (0..<(CassetteStore.fileChunkBytes + 10)).map { UInt8(truncatingIfNeeded: $0 * 7) }
            let path = directory.file("content")
            try Data(big).write(to: URL(fileURLWithPath: path))
            try await store.saveFile(Self.file("file_a", content: big), contentAt: path)
            try await store.saveFile(Self.file("file_b", content: big, key: "other"), contentAt: path)
            #expect(try await store.fileContent(sha256: Self.sha(big)) == big)
            #expect(try await store.fileChunk(sha256: Self.sha(big), seq: 1).count == 10)
            #expect(try await store.fileChunk(sha256: Self.sha(big), seq: 2) == [])
            let counts = try await store.pool.read { db in
                (try Int.fetchOne(db, sql: "SELECT count(*) FROM file_blob"), try Int.fetchOne(db, sql: "SELECT count(*) FROM file_chunk"))
            }
            #expect(counts.0 == 1 && counts.1 == 2, "two uploads of the same bytes keep them once")
        }
    }

    @Test func contentThatIsNotWhatItsAddressSaysIsRefusedWhole() async throws {
        try await withTemporaryDirectory { directory in
            let store = try CassetteStore(path: directory.file("c.sqlite"))
            var lying = Self.file("file_x", content: [1, 2, 3])
            lying.sha256 = Self.sha([9])
            await #expect(throws: (any Error).self) { try await store.saveFile(lying, content: [1, 2, 3]) }
            #expect(try await store.file(id: "file_x") == nil)
        }
    }

    @Test func anUploadSlotIsReplacedAndDeletionIsAMark() async throws {
        try await withTemporaryDirectory { directory in
            let store = try CassetteStore(path: directory.file("c.sqlite"))
            try await store.saveFile(Self.file("file_old", content: [1]), content: [1])
            try await store.saveFile(Self.file("file_new", content: [2]), content: [2])
            #expect(try await store.file(id: "file_old") == nil, "re-recording occurrence 1 replaces it")
            #expect(try await store.file(uploadKey: "k", occurrence: 1)?.id == "file_new")
            #expect(try await store.setFileDeleted(id: "file_new", true))
            #expect(try await store.files().isEmpty)
            #expect(try await store.files(includingDeleted: true).map(\.id) == ["file_new"])
            #expect(try await !store.setFileDeleted(id: "file_none", true))
        }
    }

    @Test func exportLinesRoundTrip() throws {
        let bytes: [UInt8] = [0, 255, 10, 13, 34]
        var file = Self.file("file_a", content: bytes)
        file.isDeleted = true
        let line = FileCodec.encode(file, content: bytes)
        #expect(line.hasPrefix(FileCodec.linePrefix))
        let decoded = try FileCodec.decodeExport("// comment\n" + line + "\n", file: "x.jsonl")
        #expect(decoded.count == 1 && decoded[0].0 == file && decoded[0].1 == bytes)
        // Interaction decoding skips file lines.
        #expect(try InteractionCodec.decodeExport(line, file: "x.jsonl").isEmpty)
    }
}
