import Foundation
import HTTPTypes
import Hummingbird
import MessagesAPI
import NIOCore
import Synchronization

/// The fake's Files API: uploads kept in memory with ids of its own (not Tapedeck's), listed newest first,
/// described, deleted; downloads refused as the real API refuses them for uploaded files.
final class FakeFiles: Sendable {
    struct File: Sendable {
        var metadata: JSONValue
        var content: [UInt8]
    }

    private let files = Mutex<[(id: String, file: File)]>([])

    func respond(to request: Request, body: [UInt8]) -> Response? {
        let path = request.uri.path
        guard path == "/v1/files" || path.hasPrefix("/v1/files/") else { return nil }
        let rest = path.dropFirst("/v1/files".count)
        switch (request.method, rest) {
        case (.post, ""):
            return upload(body, contentType: request.headers[.contentType] ?? "")
        case (.get, ""):
            let live = files.withLock { $0.reversed().map(\.file.metadata) }
            return Self.json([
                "data": .array(live), "has_more": false, "first_id": live.first?["id"] ?? .null,
                "last_id": live.last?["id"] ?? .null, "next_page": .null,
            ])
        default:
            break
        }
        let pieces = rest.split(separator: "/").map(String.init)
        guard let id = pieces.first, let file = files.withLock({ $0.first { $0.id == id }?.file }) else {
            return Self.error(404, "not_found_error", "File not found: \(pieces.first ?? "")")
        }
        switch (request.method, pieces.count) {
        case (.get, 1): return Self.json(file.metadata)
        case (.delete, 1):
            files.withLock { $0.removeAll { $0.id == id } }
            return Self.json(["id": .string(id), "type": "file_deleted"])
        case (.get, 2) where pieces[1] == "content":
            return Self.error(400, "invalid_request_error", "File \(id) is not downloadable")
        default:
            return Self.error(404, "not_found_error", "Not Found")
        }
    }

    /// A whole multipart body, read naively: a fake only needs the `file` part of the SDKs' uploads.
    private func upload(_ body: [UInt8], contentType: String) -> Response {
        guard let range = contentType.range(of: "boundary=") else {
            return Self.error(400, "invalid_request_error", "not multipart")
        }
        let boundary = Array(("--" + contentType[range.upperBound...].trimmingCharacters(in: CharacterSet(charactersIn: "\""))).utf8)
        var parts: [ArraySlice<UInt8>] = []
        var start = 0
        var i = 0
        while i + boundary.count <= body.count {
            if body[i..<i + boundary.count].elementsEqual(boundary) {
                if i > start { parts.append(body[start..<i]) }
                i += boundary.count
                start = i
            } else {
                i += 1
            }
        }
        for part in parts {
            let bytes = Array(part)
            guard let split = Self.find([13, 10, 13, 10], in: bytes) else { continue }
            let head = String(decoding: bytes[..<split], as: UTF8.self)
            guard head.contains("name=\"file\"") else { continue }
            var content = Array(bytes[(split + 4)...])
            if content.suffix(2) == [13, 10] { content.removeLast(2) }
            let filename = head.components(separatedBy: "filename=\"").dropFirst().first?.components(separatedBy: "\"").first ?? "unnamed"
            let mime =
                head.components(separatedBy: "\r\n").first { $0.lowercased().hasPrefix("content-type:") }
                .map { String($0.dropFirst("content-type:".count)).trimmingCharacters(in: .whitespaces) } ?? "application/octet-stream"
            let n = files.withLock { $0.count }
            let id = Identifier.make(prefix: "file_", seed: content + Array(filename.utf8), label: "fake upstream \(n)")
            let metadata: JSONValue = [
                "type": "file", "id": .string(id), "filename": .string(filename), "mime_type": .string(mime),
                "size_bytes": .int(content.count), "created_at": .string("2025-06-01T12:00:\(String(format: "%02d", n % 60))Z"),
                "downloadable": false,
            ]
            files.withLock { $0.append((id, File(metadata: metadata, content: content))) }
            return Self.json(metadata)
        }
        return Self.error(400, "invalid_request_error", "file: Field required")
    }

    static func find(_ needle: [UInt8], in bytes: [UInt8]) -> Int? {
        guard bytes.count >= needle.count else { return nil }
        for i in 0...(bytes.count - needle.count) where bytes[i..<i + needle.count].elementsEqual(needle) { return i }
        return nil
    }

    static func json(_ json: JSONValue) -> Response {
        var fields = HTTPFields()
        fields[.contentType] = "application/json"
        fields[HTTPField.Name("request-id")!] = "req_fake_files"  // lint: allow a valid literal header name
        return Response(status: .ok, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: JSONWriter.bytes(json))))
    }

    static func error(_ status: Int, _ type: String, _ message: String) -> Response {
        var fields = HTTPFields()
        fields[.contentType] = "application/json"
        let body: JSONValue = ["type": "error", "error": ["type": .string(type), "message": .string(message)]]
        return Response(status: .init(code: status), headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: JSONWriter.bytes(body))))
    }
}
