import Crypto
import Foundation
import GRDB
public import MessagesAPI

/// A file uploaded through `POST /v1/files`, as the cassette keeps it: its metadata as the API answered it
/// (Tapedeck's own, or the upstream's when recorded), and the SHA-256 of its content, which lives once in
/// `file_blob`/`file_chunk` however many uploads share it.
public struct StoredFile: Sendable, Equatable {
    public var id: String
    public var sha256: String
    public var filename: String
    public var mimeType: String
    public var sizeBytes: Int
    /// RFC 3339, as the metadata says it.
    public var createdAt: String
    public var isDeleted: Bool
    /// What identifies the upload (its fingerprint: content hash and name) and which time it was made in a run:
    /// the k-th upload of the same file in a replayed run gets the k-th stored one, as requests get recordings.
    public var uploadKey: String
    public var occurrence: Int
    /// The `file` object the API answered for it, sent back verbatim by metadata and list calls.
    public var metadata: JSONValue

    public init(
        id: String, sha256: String, filename: String, mimeType: String, sizeBytes: Int, createdAt: String,
        isDeleted: Bool = false, uploadKey: String, occurrence: Int, metadata: JSONValue
    ) {
        self.id = id
        self.sha256 = sha256
        self.filename = filename
        self.mimeType = mimeType
        self.sizeBytes = sizeBytes
        self.createdAt = createdAt
        self.isDeleted = isDeleted
        self.uploadKey = uploadKey
        self.occurrence = occurrence
        self.metadata = metadata
    }

    /// Whether the metadata says the content may be downloaded (uploads may not, on the real API).
    public var isDownloadable: Bool { metadata["downloadable"] == .bool(true) }
}

extension CassetteStore {
    /// Bytes of content per `file_chunk` row: an upload or a download holds one chunk in memory, never the file.
    public static let fileChunkBytes = 1 << 20

    static let filesSchema = """
        CREATE TABLE file_blob (sha256 TEXT PRIMARY KEY, size INTEGER NOT NULL);
        CREATE TABLE file_chunk (
            sha256 TEXT NOT NULL, seq INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (sha256, seq)
        );
        CREATE TABLE file (
            id TEXT PRIMARY KEY,
            sha256 TEXT NOT NULL,
            filename TEXT NOT NULL,
            mime_type TEXT NOT NULL,
            size_bytes INTEGER NOT NULL,
            created_at TEXT NOT NULL,
            deleted INTEGER NOT NULL DEFAULT 0,
            upload_key TEXT NOT NULL,
            occurrence INTEGER NOT NULL,
            metadata TEXT NOT NULL
        );
        CREATE INDEX file_upload ON file (upload_key, occurrence);
        UPDATE cassette_meta SET value = '3' WHERE key = 'schema_version';
        """

    private static let fileColumns =
        "id, sha256, filename, mime_type, size_bytes, created_at, deleted, upload_key, occurrence, metadata"

    static func storedFile(_ row: Row) -> StoredFile? {
        // Checked reads (GRDB's typed subscripts trap on a value of another type): a hand-edited row is left out.
        func text(_ column: String) -> String? { String.fromDatabaseValue(row[column] as DatabaseValue) }
        func integer(_ column: String) -> Int64? { Int64.fromDatabaseValue(row[column] as DatabaseValue) }
        guard let id = text("id"), let sha = text("sha256"), let name = text("filename"), let mime = text("mime_type"),
            let size = integer("size_bytes"), let created = text("created_at"), let deleted = integer("deleted"),
            let key = text("upload_key"), let occurrence = integer("occurrence"), let json = text("metadata"),
            let metadata = Interaction.json(Array(json.utf8))
        else { return nil }
        return StoredFile(
            id: id, sha256: sha, filename: name, mimeType: mime, sizeBytes: Int(clamping: size), createdAt: created,
            isDeleted: deleted != 0, uploadKey: key, occurrence: Int(clamping: occurrence), metadata: metadata)
    }

    /// The file stored as `id` (deleted ones included: the caller decides what a deleted file answers).
    public func file(id: String) async throws -> StoredFile? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT \(Self.fileColumns) FROM file WHERE id = ?", arguments: [id])
                .flatMap(Self.storedFile)
        }
    }

    /// The file the `occurrence`-th upload with `uploadKey` stored, if any.
    public func file(uploadKey: String, occurrence: Int) async throws -> StoredFile? {
        try await pool.read { db in
            try Row.fetchOne(
                db, sql: "SELECT \(Self.fileColumns) FROM file WHERE upload_key = ? AND occurrence = ?",
                arguments: [uploadKey, occurrence]
            ).flatMap(Self.storedFile)
        }
    }

    /// Every stored file, newest first (as the API lists them), deleted ones only when asked.
    public func files(includingDeleted: Bool = false) async throws -> [StoredFile] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: "SELECT \(Self.fileColumns) FROM file \(includingDeleted ? "" : "WHERE deleted = 0") "
                    + "ORDER BY created_at DESC, id DESC"
            ).compactMap(Self.storedFile)
        }
    }

    /// Saves `file`, taking its content from the file at `contentPath` when the cassette does not hold that
    /// content yet, all in one transaction: a failure leaves the cassette as it was. A file stored for the same
    /// upload and occurrence is replaced, so re-recording a suite does not grow the cassette.
    public func saveFile(_ file: StoredFile, contentAt contentPath: String) async throws {
        try await pool.write { db in
            try Self.storeBlob(sha256: file.sha256, size: file.sizeBytes, in: db) { seq in
                // On GRDB's writer queue, off the event loop: one chunk read and written at a time.
                guard let handle = FileHandle(forReadingAtPath: contentPath) else {
                    throw CocoaError(.fileReadNoSuchFile)
                }
                defer { try? handle.close() }
                try handle.seek(toOffset: UInt64(seq) * UInt64(Self.fileChunkBytes))
                return try handle.read(upToCount: Self.fileChunkBytes).map(Array.init) ?? []
            }
            try Self.writeFileRow(file, in: db)
        }
    }

    /// Saves `file` with its whole `content` (import, tests).
    public func saveFile(_ file: StoredFile, content: [UInt8]) async throws {
        try await pool.write { db in
            try Self.storeBlob(sha256: file.sha256, size: content.count, in: db) { seq in
                let start = seq * Self.fileChunkBytes
                guard start < content.count else { return [] }
                return Array(content[start..<min(content.count, start + Self.fileChunkBytes)])
            }
            try Self.writeFileRow(file, in: db)
        }
    }

    private static func storeBlob(
        sha256: String, size: Int, in db: Database, chunk: (Int) throws -> [UInt8]
    ) throws {
        guard try Int.fetchOne(db, sql: "SELECT 1 FROM file_blob WHERE sha256 = ?", arguments: [sha256]) == nil else {
            return  // content-addressed: the same bytes are kept once
        }
        var seq = 0
        var written = 0
        var hasher = SHA256()
        while written < size || (size == 0 && seq == 0) {
            let data = try chunk(seq)
            if data.isEmpty { break }
            hasher.update(data: data)
            try db.execute(
                sql: "INSERT INTO file_chunk (sha256, seq, data) VALUES (?, ?, ?)", arguments: [sha256, seq, Data(data)])
            written += data.count
            seq += 1
        }
        // The content is what its address says, or nothing is kept.
        let digest = hasher.finalize().map { String(format: "%02x", $0) }.joined()
        guard written == size, digest == sha256 else { throw CocoaError(.fileReadCorruptFile) }
        try db.execute(sql: "INSERT INTO file_blob (sha256, size) VALUES (?, ?)", arguments: [sha256, size])
    }

    private static func writeFileRow(_ file: StoredFile, in db: Database) throws {
        try db.execute(
            sql: "DELETE FROM file WHERE id = ? OR (upload_key = ? AND occurrence = ?)",
            arguments: [file.id, file.uploadKey, file.occurrence])
        try db.execute(
            sql: "INSERT INTO file (\(fileColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            arguments: [
                file.id, file.sha256, file.filename, file.mimeType, file.sizeBytes, file.createdAt, file.isDeleted ? 1 : 0,
                file.uploadKey, file.occurrence, JSONWriter.string(file.metadata),
            ])
    }

    /// Marks `id` deleted or live again; its content stays, so a replayed run's upload can bring it back.
    /// Returns whether such a file exists.
    @discardableResult
    public func setFileDeleted(id: String, _ deleted: Bool) async throws -> Bool {
        try await pool.write { db in
            try db.execute(sql: "UPDATE file SET deleted = ? WHERE id = ?", arguments: [deleted ? 1 : 0, id])
            return db.changesCount > 0
        }
    }

    /// Chunk `seq` of the content `sha256` (empty past the end).
    public func fileChunk(sha256: String, seq: Int) async throws -> [UInt8] {
        try await pool.read { db in
            let data = try Data.fetchOne(
                db, sql: "SELECT data FROM file_chunk WHERE sha256 = ? AND seq = ?", arguments: [sha256, seq])
            return data.map(Array.init) ?? []
        }
    }

    /// The whole content `sha256` (export; a server streams chunks instead).
    public func fileContent(sha256: String) async throws -> [UInt8] {
        try await pool.read { db in
            let rows = try Data.fetchAll(
                db, sql: "SELECT data FROM file_chunk WHERE sha256 = ? ORDER BY seq", arguments: [sha256])
            return rows.reduce(into: [UInt8]()) { $0.append(contentsOf: $1) }
        }
    }
}
