import Crypto
import Foundation
import MessagesAPI
import MultipartKit
import NIOCore
import NIOPosix

/// A `POST /v1/files` body, received: the `file` part's bytes in a temporary file (never in memory), their
/// SHA-256 and size, its name and type, and the other form fields. The temporary files are removed by `remove()`;
/// the cassette is written only once the whole body has arrived and parsed.
struct FileUpload: Sendable {
    /// The file part's content.
    let contentPath: String
    /// The whole body as sent, kept when it is to be forwarded upstream (record mode).
    let rawPath: String?
    let rawSize: Int
    let sha256: String
    let size: Int
    let filename: String
    let mimeType: String
    /// The other form fields (`expires_in_seconds`, …), by name.
    let fields: [String: String]
    /// The request's `content-type`, boundary included: what a forwarded body is sent with.
    let contentType: String

    func remove() {
        try? FileManager.default.removeItem(atPath: contentPath)
        if let rawPath { try? FileManager.default.removeItem(atPath: rawPath) }
    }
}

/// Reads a multipart upload as it streams in. MultipartKit's `MultipartParser` does the framing (it is a
/// callback parser that holds no more than the chunk it is given); this type routes the `file` part's bytes to a
/// temporary file chunk by chunk, hashing them on the way, and refuses what the API refuses.
struct FileUploadReader: Sendable {
    /// Largest file accepted (`--max-file-bytes`).
    let maxFileBytes: Int
    /// Where temporary files go.
    let directory: String

    /// Bytes a body may carry beyond its file (part headers, boundaries, small fields) before it is too large.
    static let framingAllowance = 1 << 20
    /// Largest value of a field that is not the file.
    static let largestField = 64 << 10

    /// Receives `body`, whose `content-type` is `contentType`; `keepRaw` also keeps the body as sent.
    func receive<Body: AsyncSequence & Sendable>(
        _ body: Body, contentType: String?, keepRaw: Bool, name: String
    ) async throws(APIError) -> FileUpload where Body.Element == ByteBuffer {
        guard let contentType, let boundary = Self.boundary(of: contentType) else {
            throw APIError.invalidRequest(
                "Invalid content type: the request must be multipart/form-data with a boundary, carrying the file in a part named 'file'.")
        }
        let contentPath = directory + "/tapedeck-upload-\(name).part"
        let rawPath = keepRaw ? directory + "/tapedeck-upload-\(name).body" : nil
        do {
            return try await receive(body, boundary: boundary, contentType: contentType, contentPath: contentPath, rawPath: rawPath)
        } catch {
            try? FileManager.default.removeItem(atPath: contentPath)
            if let rawPath { try? FileManager.default.removeItem(atPath: rawPath) }
            if let error = error as? APIError { throw error }
            throw APIError.invalidRequest("The request body could not be read: it ended early or its framing is malformed.")
        }
    }

    private func receive<Body: AsyncSequence & Sendable>(
        _ body: Body, boundary: String, contentType: String, contentPath: String, rawPath: String?
    ) async throws -> FileUpload where Body.Element == ByteBuffer {
        let content = try Spool(path: contentPath)
        let raw = try rawPath.map(Spool.init(path:))
        defer {
            content.close()
            raw?.close()
        }
        let parts = MultipartParts()
        let parser = MultipartParser(boundary: boundary)
        parser.onHeader = { name, value in parts.header(name, value) }
        parser.onBody = { buffer in parts.body(&buffer) }
        parser.onPartComplete = { parts.complete() }
        var rawSize = 0
        var tail: [UInt8] = []
        let closing = Array("--\(boundary)--".utf8)
        for try await chunk in body {
            rawSize += chunk.readableBytes
            guard rawSize <= maxFileBytes + Self.framingAllowance else { throw Self.tooLarge(maxFileBytes) }
            if let raw { try await raw.write(chunk) }
            // The last bytes seen, to tell a body that ended at its closing boundary from one cut short.
            tail.append(contentsOf: chunk.readableBytesView.suffix(closing.count + 4))
            if tail.count > closing.count + 4 { tail.removeFirst(tail.count - closing.count - 4) }
            do {
                try parser.execute(chunk)
            } catch {
                throw APIError.invalidRequest("Malformed multipart body: \(parts.problem ?? "its framing is not multipart/form-data").")
            }
            if let problem = parts.problem { throw APIError.invalidRequest(problem) }
            if parts.fileSize > maxFileBytes { throw Self.tooLarge(maxFileBytes) }
            if let pending = parts.takePending() { try await content.write(pending) }
        }
        var trimmed = tail[...]
        while let last = trimmed.last, last == 0x0D || last == 0x0A || last == 0x20 { trimmed = trimmed.dropLast() }
        guard trimmed.count >= closing.count, trimmed.suffix(closing.count).elementsEqual(closing), !parts.isInPart else {
            throw APIError.invalidRequest("Malformed multipart body: it ended before its closing boundary (the upload was cut short).")
        }
        guard parts.sawFile else { throw APIError.invalidRequest("file: Field required") }
        let filename = try Self.storedName(parts.filename, mimeType: parts.mimeType)
        return FileUpload(
            contentPath: contentPath, rawPath: rawPath, rawSize: rawSize, sha256: parts.digest(), size: parts.fileSize,
            filename: filename, mimeType: parts.mimeType, fields: parts.fields, contentType: contentType)
    }

    static func tooLarge(_ limit: Int) -> APIError {
        APIError(status: 413, type: .requestTooLarge, message: "File exceeds the maximum allowed size of \(limit) bytes.")
    }

    /// The `boundary` parameter of a `multipart/form-data` content type, unquoted.
    static func boundary(of contentType: String) -> String? {
        let pieces = ContentDisposition.parameters(contentType)
        guard pieces.value.lowercased() == "multipart/form-data", let boundary = pieces.parameters["boundary"],
            !boundary.isEmpty, boundary.utf8.count <= 200
        else { return nil }
        return boundary
    }

    /// The name the API stores: the last path component of what was sent, `unnamed` plus an extension for an
    /// absent one; a name the API refuses (longer than 255 characters, or with `<>:"|?*\/` or control
    /// characters) is refused with its 400.
    static func storedName(_ sent: String?, mimeType: String) throws(APIError) -> String {
        var name = sent ?? ""
        if let slash = name.lastIndex(where: { $0 == "/" || $0 == "\\" }) { name = String(name[name.index(after: slash)...]) }
        if name.isEmpty { return "unnamed" + (extensions[mimeType].map { "." + $0 } ?? "") }
        let forbidden = Set("<>:\"|?*\\/")
        guard name.count <= 255, !name.unicodeScalars.contains(where: { $0.value < 32 || forbidden.contains(Character($0)) }) else {
            throw APIError.invalidRequest(
                "Invalid filename: it must be 1 to 255 characters, without <, >, :, \", |, ?, *, \\, / or control characters.")
        }
        return name
    }

    static let extensions = [
        "application/pdf": "pdf", "text/plain": "txt", "image/png": "png", "image/jpeg": "jpg", "image/gif": "gif",
        "image/webp": "webp", "text/csv": "csv", "application/json": "json",
    ]
}

/// What the parser's callbacks learn about the parts: used by one task only, the one receiving the body.
private final class MultipartParts {
    private var headers: [(String, String)] = []
    private var kind: Kind?
    private var fieldBytes: [UInt8] = []
    private var pending = ByteBuffer()
    private var hasher = SHA256()
    private(set) var fields: [String: String] = [:]
    private(set) var fileSize = 0
    private(set) var sawFile = false
    private(set) var filename: String?
    private(set) var mimeType = "application/octet-stream"
    private(set) var problem: String?
    /// Whether a part has started (headers or body seen) and not completed.
    private(set) var isInPart = false

    private enum Kind {
        case file
        case field(String)
    }

    func header(_ name: String, _ value: String) {
        isInPart = true
        headers.append((name.lowercased(), value))
    }

    func body(_ buffer: inout ByteBuffer) {
        isInPart = true
        if kind == nil { kind = decideKind() }
        switch kind {
        case .file:
            fileSize += buffer.readableBytes
            hasher.update(data: Array(buffer.readableBytesView))
            pending.writeBuffer(&buffer)
        case .field:
            if fieldBytes.count + buffer.readableBytes > FileUploadReader.largestField {
                problem = "Malformed multipart body: a form field is longer than \(FileUploadReader.largestField) bytes"
            } else {
                fieldBytes.append(contentsOf: buffer.readableBytesView)
            }
        case nil:
            break
        }
    }

    func complete() {
        if kind == nil { kind = decideKind() }
        if case .field(let name) = kind { fields[name] = String(decoding: fieldBytes, as: UTF8.self) }
        headers = []
        kind = nil
        fieldBytes = []
        isInPart = false
    }

    /// The file part's bytes received since the last call, to be written out.
    func takePending() -> ByteBuffer? {
        guard pending.readableBytes > 0 else { return nil }
        defer { pending = ByteBuffer() }
        return pending
    }

    func digest() -> String { hasher.finalize().map { String(format: "%02x", $0) }.joined() }

    private func decideKind() -> Kind? {
        guard let disposition = headers.first(where: { $0.0 == "content-disposition" })?.1 else {
            problem = "Malformed multipart body: a part has no Content-Disposition header"
            return nil
        }
        let parsed = ContentDisposition.parameters(disposition)
        let name = parsed.parameters["name"] ?? ""
        guard name == "file" else { return .field(name) }
        guard !sawFile else {
            problem = "file: only one file may be uploaded per request"
            return nil
        }
        sawFile = true
        filename = parsed.parameters["filename"]
        if let type = headers.first(where: { $0.0 == "content-type" })?.1.trimmingCharacters(in: .whitespaces), !type.isEmpty {
            mimeType = type
        }
        return .file
    }
}

/// A temporary file written off the event loop, one received chunk at a time.
private final class Spool: Sendable {
    let handle: FileHandle

    init(path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw APIError.api("Tapedeck could not create a temporary file for the upload at \(path).")
        }
        self.handle = handle
    }

    func write(_ buffer: ByteBuffer) async throws {
        let handle = handle
        try await NIOThreadPool.singleton.runIfActive { try handle.write(contentsOf: Data(buffer.readableBytesView)) }
    }

    func close() { try? handle.close() }
}

/// `value; key=value; key="quoted value"`, as `Content-Type` and `Content-Disposition` write it.
enum ContentDisposition {
    static func parameters(_ header: String) -> (value: String, parameters: [String: String]) {
        var pieces: [String] = []
        var current = ""
        var quoted = false
        var escaped = false
        for ch in header {
            if escaped {
                current.append(ch)
                escaped = false
            } else if quoted && ch == "\\" {
                escaped = true
            } else if ch == "\"" {
                quoted.toggle()
            } else if ch == ";" && !quoted {
                pieces.append(current)
                current = ""
            } else {
                current.append(ch)
            }
        }
        pieces.append(current)
        let value = pieces.first?.trimmingCharacters(in: .whitespaces) ?? ""
        var parameters: [String: String] = [:]
        for piece in pieces.dropFirst() {
            guard let equals = piece.firstIndex(of: "=") else { continue }
            let key = piece[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            parameters[key] = String(piece[piece.index(after: equals)...]).trimmingCharacters(in: .whitespaces)
        }
        return (value, parameters)
    }
}
