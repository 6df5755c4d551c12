import Cassette
import Foundation
import MessagesAPI
import NIOCore

/// The Files API (`/v1/files`): uploads kept in the cassette itself (content-addressed, deduplicated), listed,
/// described, downloaded and deleted from there, so a cassette stays one file and replays offline.
///
/// Files are state, not answers: the policy asks this source alone, in every mode. In record mode it forwards
/// every call upstream (the upstream's verdict and ids win) and keeps uploads with their upstream ids and
/// metadata, and deletes as marks; in replay and auto mode the k-th upload of the same content and name in a run
/// gets the k-th stored file back (undeleted), and anything else is answered from the store, with an upload not
/// stored getting an id derived from its content, name and occurrence. (Auto mode forwards such an upload.)
struct FileSource: AnswerSource {
    enum Operation: Sendable {
        case upload(FileUpload)
        case list
        case metadata(id: String)
        case content(id: String)
        case delete(id: String)
    }

    let operation: Operation
    let mode: TapedeckConfiguration.Mode
    /// The upstream, in record and auto mode.
    let upstream: RecordSource?
    /// Whether uploads are marked downloadable (`--downloadable-uploads`); the real API marks them not.
    let downloadableUploads: Bool

    var kind: SourceKind { .files }

    /// The first `created_at` Tapedeck gives; each stored file one second later than the one before.
    static let epoch = Date(timeIntervalSince1970: 1_744_588_800)  // 2025-04-14T00:00:00Z, the beta's date

    @inline(never)  // its own frame, not part of every caller's: see `AnswerSource`
    func answer(_ request: IncomingRequest, tape: Tape) async throws -> Answer? {
        let forwarding = mode == .record ? upstream : nil
        switch operation {
        case .upload(let upload):
            return try await self.upload(upload, request, tape: tape)
        case .list:
            if let forwarding { return try await relay(forwarding.forward(request), request) }
            return try await list(request, tape: tape)
        case .metadata(let id):
            if let forwarding { return try await relay(forwarding.forward(request), request) }
            return Self.json(try await Self.live(id, tape: tape).metadata, for: request)
        case .content(let id):
            if let forwarding { return try await relay(forwarding.forward(request), request) }
            return try await content(id, request, tape: tape)
        case .delete(let id):
            if let forwarding {
                let answer = try await forwarding.forward(request)
                if answer.status == 200 { try await tape.writableStore().setFileDeleted(id: id, true) }
                return relay(answer, request)
            }
            _ = try await Self.live(id, tape: tape)
            try await tape.writableStore().setFileDeleted(id: id, true)
            return Self.json(["id": .string(id), "type": "file_deleted"], for: request)
        }
    }

    private func upload(_ upload: FileUpload, _ request: IncomingRequest, tape: Tape) async throws -> Answer {
        let key = request.fingerprint.hex
        if mode != .record, let stored = try await tape.isPresent ? tape.store().file(uploadKey: key, occurrence: request.occurrence) : nil
        {
            if stored.isDeleted { try await tape.writableStore().setFileDeleted(id: stored.id, false) }
            return Self.json(stored.metadata, for: request)
        }
        if mode != .replay, let upstream {
            let raw = upload.rawPath.map { (path: $0, size: upload.rawSize, contentType: upload.contentType) }
            let answer = try await upstream.forward(request, bodyFile: raw)
            guard answer.status == 200, let metadata = Interaction.json(Array(answer.body.readableBytesView)),
                let id = metadata["id"]?.stringValue
            else { return relay(answer, request) }
            let stored = StoredFile(
                id: id, sha256: upload.sha256, filename: metadata["filename"]?.stringValue ?? upload.filename,
                mimeType: metadata["mime_type"]?.stringValue ?? upload.mimeType, sizeBytes: upload.size,
                createdAt: metadata["created_at"]?.stringValue ?? "", uploadKey: key, occurrence: request.occurrence,
                metadata: metadata)
            try await save(stored, upload, tape: tape)
            return relay(answer, request)
        }
        let store = try await tape.writableStore()
        let count = try await store.files(includingDeleted: true).count
        let created = Self.epoch.addingTimeInterval(Double(count))
            .formatted(.iso8601.year().month().day().time(includingFractionalSeconds: false).timeZone(separator: .omitted))
        let id = Identifier.make(prefix: "file_", seed: Array(request.fingerprint.hex.utf8), label: "upload \(request.occurrence)")
        let metadata: JSONValue = [
            "type": "file", "id": .string(id), "filename": .string(upload.filename), "mime_type": .string(upload.mimeType),
            "size_bytes": .int(upload.size), "created_at": .string(created), "downloadable": .bool(downloadableUploads),
        ]
        let stored = StoredFile(
            id: id, sha256: upload.sha256, filename: upload.filename, mimeType: upload.mimeType, sizeBytes: upload.size,
            createdAt: created, uploadKey: key, occurrence: request.occurrence, metadata: metadata)
        try await save(stored, upload, tape: tape)
        return Self.json(metadata, for: request)
    }

    private func save(_ file: StoredFile, _ upload: FileUpload, tape: Tape) async throws(APIError) {
        do {
            try await tape.writableStore().saveFile(file, contentAt: upload.contentPath)
        } catch {
            throw APIError(
                status: 500, type: .api,
                message: "Tapedeck could not save the upload to \(tape.path) (\(CassetteStore.reason(error))).",
                headers: [("x-should-retry", "false")])
        }
    }

    private func list(_ request: IncomingRequest, tape: Tape) async throws -> Answer {
        let query = QueryParameters.parse(request.query)
        let limit = try ListPage<StoredFile>.limit(query["limit"])
        let files = tape.isPresent ? try await tape.store().files() : []
        // `ids` (the 2.x SDK writes `ids[]=a&ids[]=b`): just those, on one page; unknown and deleted ones left out.
        let ids = Self.repeated("ids", in: request.query)
        if !ids.isEmpty {
            guard Set(ids).count <= 100 else { throw APIError.invalidRequest("ids: at most 100 ids may be given") }
            let wanted = Set(ids)
            let page = files.filter { wanted.contains($0.id) }
            return Self.json(
                [
                    "data": .array(page.map(\.metadata)), "has_more": false, "first_id": page.first.map { .string($0.id) } ?? .null,
                    "last_id": page.last.map { .string($0.id) } ?? .null, "next_page": .null,
                ], for: request)
        }
        var after = query["after_id"]
        if let page = query["page"] {
            guard let decoded = Self.decodePage(page) else { throw APIError.invalidRequest("page: invalid page cursor '\(page)'") }
            after = decoded
        }
        let before = after == nil ? query["before_id"] : nil
        guard let listed = ListPage.of(files, id: \.id, limit: limit, after: after, before: before) else {
            throw after.map { APIError.invalidRequest("after_id: unknown file id '\($0)'") }
                ?? APIError.invalidRequest("before_id: unknown file id '\(before ?? "")'")
        }
        let page = listed.items
        let hasMore = listed.hasMore
        let json: JSONValue = [
            "data": .array(page.map(\.metadata)),
            "has_more": .bool(hasMore),
            "first_id": page.first.map { .string($0.id) } ?? .null,
            "last_id": page.last.map { .string($0.id) } ?? .null,
            // The current SDK pages by this cursor; the older one by `has_more` and `last_id`.
            "next_page": hasMore ? page.last.map { .string(Self.encodePage($0.id)) } ?? .null : .null,
        ]
        return Self.json(json, for: request)
    }

    private func content(_ id: String, _ request: IncomingRequest, tape: Tape) async throws -> Answer {
        let file = try await Self.live(id, tape: tape)
        guard file.isDownloadable else {
            var error = APIError.invalidRequest(
                "File \(id) is not downloadable: only files created by a tool, such as the code execution tool, can be downloaded.")
            error.details = ["error_code": "file_not_downloadable"]
            throw error
        }
        let store = try tape.store()
        let sha = file.sha256
        let headers =
            HeaderPolicy.made(for: request) + [
                ("content-type", file.mimeType), ("content-length", String(file.sizeBytes)),
                ("content-disposition", "attachment; filename=\"\(file.filename.replacing("\"", with: "'"))\""),
            ]
        return Answer(
            headers: headers,
            body: .relayed({ writer in
                var seq = 0
                while true {
                    let chunk = try await store.fileChunk(sha256: sha, seq: seq)
                    if chunk.isEmpty { break }
                    try await writer.write(ByteBuffer(bytes: chunk))
                    seq += 1
                }
            }), source: .recorded)
    }

    /// The stored, undeleted file `id`, or the API's 404.
    static func live(_ id: String, tape: Tape) async throws -> StoredFile {
        guard tape.isPresent, let file = try await tape.store().file(id: id), !file.isDeleted else {
            throw APIError.notFound("File not found: \(id)")
        }
        return file
    }

    /// Every value of `name` (also written `name[]`) in a query string, percent-decoded.
    static func repeated(_ name: String, in query: String?) -> [String] {
        (query ?? "").split(separator: "&").compactMap { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = String(parts[0]).removingPercentEncoding
            guard key == name || key == name + "[]", parts.count > 1 else { return nil }
            return String(parts[1]).replacing("+", with: " ").removingPercentEncoding
        }
    }

    static func encodePage(_ id: String) -> String { "page_" + id.utf8.map { String(format: "%02x", $0) }.joined() }

    static func decodePage(_ page: String) -> String? {
        guard page.hasPrefix("page_") else { return nil }
        let hex = Array(page.utf8.dropFirst(5))
        guard hex.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        for i in stride(from: 0, to: hex.count, by: 2) {
            guard let byte = UInt8(String(decoding: hex[i..<i + 2], as: UTF8.self), radix: 16) else { return nil }
            bytes.append(byte)
        }
        return String(bytes: bytes, encoding: .utf8)
    }

    func relay(_ forwarded: RecordSource.Forwarded, _ request: IncomingRequest) -> Answer {
        Answer(status: forwarded.status, headers: forwarded.headers, body: .json(forwarded.body), source: .proxied)
    }

    static func json(_ json: JSONValue, for request: IncomingRequest) -> Answer {
        Answer(headers: HeaderPolicy.made(for: request), body: .json(ByteBuffer(bytes: JSONWriter.bytes(json))), source: .synthesized)
    }
}
