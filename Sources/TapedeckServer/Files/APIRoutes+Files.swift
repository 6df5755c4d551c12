import Foundation
import Hummingbird
import MessagesAPI

extension APIRoutes {
    /// `/v1/files`: an upload is streamed to a temporary file first (the cassette is written only once it has
    /// arrived whole), then answered through the pipeline like every other call, by `FileSource`.
    func addFileRoutes(to router: Router<TapedeckRequestContext>) {
        let configuration = pipeline.configuration
        @Sendable func source(_ operation: FileSource.Operation) -> FileSource {
            FileSource(
                operation: operation, mode: configuration.mode, upstream: pipeline.record,
                downloadableUploads: configuration.downloadableUploads)
        }
        let uploads = FileUploadReader(
            maxFileBytes: configuration.maxFileBytes, directory: FileManager.default.temporaryDirectory.path)
        router.on(.files, .post) { request, context in
            var incoming = try await reader.read(request, context: context, hasBody: false)
            let upload = try await uploads.receive(
                request.body, contentType: request.headers[.contentType],
                keepRaw: pipeline.record != nil && configuration.mode != .replay, name: UUID().uuidString)
            defer { upload.remove() }
            // What the upload is matched by: the content and how it is named, plus the other fields.
            var description: JSONObject = [
                "sha256": .string(upload.sha256), "filename": .string(upload.filename), "mime_type": .string(upload.mimeType),
            ]
            for (name, value) in upload.fields.sorted(by: { $0.key < $1.key }) { description[name] = .string(value) }
            incoming.body = .object(description)
            incoming.fingerprint = incoming.matcher.fingerprint(method: incoming.method, path: incoming.path, body: incoming.body)
            context.trace.update { [hex = incoming.fingerprint.hex] in $0.fingerprint = hex }
            return try await pipeline.answer(incoming, fallback: source(.upload(upload))).response()
        }
        router.on(.files, .get) { request, context in
            let incoming = try await reader.read(request, context: context, hasBody: false)
            return try await pipeline.answer(incoming, fallback: source(.list)).response()
        }
        router.on(.file, .get) { request, context in
            let incoming = try await reader.read(request, context: context, hasBody: false)
            return try await pipeline.answer(incoming, fallback: source(.metadata(id: Self.fileID(context)))).response()
        }
        router.on(.file, .delete) { request, context in
            let incoming = try await reader.read(request, context: context, hasBody: false)
            return try await pipeline.answer(incoming, fallback: source(.delete(id: Self.fileID(context)))).response()
        }
        router.on(.fileContent, .get) { request, context in
            let incoming = try await reader.read(request, context: context, hasBody: false)
            return try await pipeline.answer(incoming, fallback: source(.content(id: Self.fileID(context)))).response()
        }
    }

    static func fileID(_ context: TapedeckRequestContext) -> String {
        (context.parameters.get("id") ?? "").removingPercentEncoding
    }
}
