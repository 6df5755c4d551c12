import AsyncHTTPClient
import Foundation
import MessagesAPI
import NIOCore
import NIOHTTP1
import NIOPosix

extension RecordSource {
    /// An upstream answer read whole: what the Files source keeps state from (the upload's metadata, a delete's
    /// verdict) rather than recording it as an interaction.
    struct Forwarded: Sendable {
        var status: Int
        var headers: [(String, String)]
        var body: ByteBuffer
    }

    /// Sends `request` upstream as it came (its forwarded headers, with the server's key when it brought
    /// none), with `bodyFile`'s bytes as the body when given (streamed from disk, never held whole), and reads
    /// the answer up to `--max-recording-bytes`.
    func forward(_ forwarded: IncomingRequest, bodyFile: (path: String, size: Int, contentType: String)? = nil)
        async throws -> Forwarded
    {
        var request = HTTPClientRequest(url: upstream + forwarded.path + (forwarded.query.map { "?" + $0 } ?? ""))
        request.method = HTTPMethod(rawValue: forwarded.method)
        var hasAuth = false
        for field in forwarded.headers {
            let lower = field.name.canonicalName
            guard HeaderPolicy.isForwarded(requestHeader: lower), lower != "content-type" else { continue }
            if HeaderPolicy.isCredential(lower) { hasAuth = true }
            request.headers.add(name: field.name.rawName, value: field.value)
        }
        if !hasAuth, let upstreamKey { request.headers.add(name: "x-api-key", value: upstreamKey) }
        request.headers.replaceOrAdd(name: "accept-encoding", value: "identity")
        if let contentType = forwarded.headers[.contentType], bodyFile == nil {
            request.headers.replaceOrAdd(name: "content-type", value: contentType)
        }
        if let bodyFile {
            request.headers.replaceOrAdd(name: "content-type", value: bodyFile.contentType)
            request.body = .stream(Self.chunks(of: bodyFile.path), length: .known(Int64(bodyFile.size)))
        } else if !forwarded.rawBody.isEmpty {
            request.body = .bytes(ByteBuffer(bytes: forwarded.rawBody))
        }
        do {
            let (client, logger, request, limit) = (client, logger, request, maxRecordingBytes)
            return try await forwarded.client.cancellingOnClose {
                let response = try await client.execute(
                    request, timeout: .clamped(seconds: Limits.longestWaitSeconds), logger: logger)
                let body = try await response.body.collect(upTo: max(limit, 1))
                let headers = response.headers.filter { !HeaderPolicy.hopByHop.contains($0.name.lowercased()) }
                    .map { ($0.name, $0.value) }
                return Forwarded(status: Int(response.status.code), headers: headers, body: body)
            }
        } catch let stop as ClientConnection.Closed {
            throw stop
        } catch let stop as CancellationError {
            throw stop
        } catch {
            throw Self.upstreamError(error, upstream: upstream)
        }
    }

    /// A file's bytes, a chunk at a time, read off the event loop.
    static func chunks(of path: String) -> AsyncThrowingStream<ByteBuffer, any Error> {
        let chunkBytes = 256 << 10
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    guard let handle = FileHandle(forReadingAtPath: path) else { throw CocoaError(.fileReadNoSuchFile) }
                    defer { try? handle.close() }
                    while true {
                        let data = try await NIOThreadPool.singleton.runIfActive { try handle.read(upToCount: chunkBytes) }
                        guard let data, !data.isEmpty else { break }
                        continuation.yield(ByteBuffer(bytes: data))
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}
