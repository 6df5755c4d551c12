import Foundation
import MessagesAPI

/// Stored files in a cassette export: one JSON line each, after the interactions, its content as base64 so any
/// bytes round-trip. `tapedeck cassette import` tells these lines from interactions by their leading `"kind"`.
public enum FileCodec {
    /// What a file line starts with; interaction lines never do.
    public static let linePrefix = #"{"kind":"file""#

    public static func encode(_ file: StoredFile, content: [UInt8]) -> String {
        let json: JSONValue = [
            "kind": "file", "id": .string(file.id), "sha256": .string(file.sha256), "filename": .string(file.filename),
            "mime_type": .string(file.mimeType), "size_bytes": .int(file.sizeBytes), "created_at": .string(file.createdAt),
            "deleted": .bool(file.isDeleted), "upload_key": .string(file.uploadKey), "occurrence": .int(file.occurrence),
            "metadata": file.metadata, "content_base64": .string(Data(content).base64EncodedString()),
        ]
        return JSONWriter.string(json)
    }

    /// The files of an export, in the order given; the first bad file line fails the whole import.
    public static func decodeExport(_ text: String, file: String) throws(InteractionCodec.FileError) -> [(StoredFile, [UInt8])] {
        var files: [(StoredFile, [UInt8])] = []
        var number = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            number += 1
            guard line.trimmingCharacters(in: .whitespaces).hasPrefix(linePrefix) else { continue }
            func fail(_ reason: String) -> InteractionCodec.FileError {
                InteractionCodec.FileError(file: file, line: number, reason: reason)
            }
            guard let value = try? JSONParser.parse(Array(line.utf8)) else { throw fail("not valid JSON") }
            guard let id = value["id"]?.stringValue, let sha = value["sha256"]?.stringValue,
                let name = value["filename"]?.stringValue, let mime = value["mime_type"]?.stringValue,
                let created = value["created_at"]?.stringValue, let key = value["upload_key"]?.stringValue,
                let occurrence = value["occurrence"]?.intValue, let metadata = value["metadata"],
                let text = value["content_base64"]?.stringValue, let content = Data(base64Encoded: text).map(Array.init)
            else {
                throw fail(
                    "a file line needs id, sha256, filename, mime_type, created_at, upload_key, occurrence, metadata, content_base64")
            }
            files.append(
                (
                    StoredFile(
                        id: id, sha256: sha, filename: name, mimeType: mime, sizeBytes: content.count, createdAt: created,
                        isDeleted: value["deleted"] == .bool(true), uploadKey: key, occurrence: occurrence, metadata: metadata),
                    content
                ))
        }
        return files
    }
}
