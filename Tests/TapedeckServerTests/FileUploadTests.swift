import Crypto
import Foundation
import MessagesAPI
import NIOCore
import TapedeckTestSupport
import Testing

@testable import TapedeckServer

/// The streaming multipart reader of `POST /v1/files`: framing split anywhere, limits, truncation, names.
@Suite("File uploads")
struct FileUploadTests {
    static let content: [UInt8] = Array(0...255) + Array("\r\n--B, almost the boundary\r\n-".utf8) + Array(0...255)

    static func body(boundary: String = "Bo", filename: String = "a.bin", content: [UInt8] = content, close: Bool = true) -> [UInt8] {
        var out = Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nuser_data\r\n".utf8)
        out += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(filename)\"\r\n".utf8)
        out += Array("Content-Type: application/pdf\r\n\r\n".utf8) + content
        if close { out += Array("\r\n--\(boundary)--\r\n".utf8) }
        return out
    }

    /// `bytes` as a body arriving in pieces of `size`.
    static func pieces(_ bytes: [UInt8], size: Int) -> AsyncStream<ByteBuffer> {
        AsyncStream { continuation in
            var start = 0
            while start < bytes.count {
                continuation.yield(ByteBuffer(bytes: bytes[start..<min(bytes.count, start + size)]))
                start += size
            }
            continuation.finish()
        }
    }

    func receive(_ bytes: [UInt8], size: Int = 7, limit: Int = 10_000, in directory: TemporaryDirectory) async throws(APIError)
        -> FileUpload
    {
        try await FileUploadReader(maxFileBytes: limit, directory: directory.path).receive(
            Self.pieces(bytes, size: size), contentType: "multipart/form-data; boundary=\"Bo\"", keepRaw: true, name: "t")
    }

    @Test(arguments: [1, 2, 5, 64, 100_000])
    func theFilePartStreamsToDiskWhereverTheBodyIsCut(_ size: Int) async throws {
        try await withTemporaryDirectory { directory async throws in
            let upload = try await receive(Self.body(), size: size, in: directory)
            defer { upload.remove() }
            #expect(try Data(contentsOf: URL(fileURLWithPath: upload.contentPath)) == Data(Self.content))
            #expect(try Data(contentsOf: URL(fileURLWithPath: upload.rawPath ?? "")) == Data(Self.body()))
            #expect(upload.size == Self.content.count)
            #expect(upload.sha256 == SHA256.hash(data: Self.content).map { String(format: "%02x", $0) }.joined())
            #expect((upload.filename, upload.mimeType, upload.fields) == ("a.bin", "application/pdf", ["purpose": "user_data"]))
        }
    }

    @Test func aBodyCutShortIsRefusedAndLeavesNothing() async throws {
        try await withTemporaryDirectory { directory async throws in
            for cut in [Self.body(close: false), Array(Self.body().dropLast(5)), Array(Self.body().prefix(20))] {
                await #expect(throws: APIError.self) { try await receive(cut, in: directory) }
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == [])
        }
    }

    @Test func aFileOverTheLimitIsA413() async throws {
        try await withTemporaryDirectory { directory async throws in
            let error = await #expect(throws: APIError.self) {
                try await receive(Self.body(content: Array(repeating: 7, count: 1001)), limit: 1000, in: directory)
            }
            #expect(error?.status == 413 && error?.type == .requestTooLarge)
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == [])
            let exact = try await receive(Self.body(content: Array(repeating: 7, count: 1000)), limit: 1000, in: directory)
            exact.remove()
            #expect(exact.size == 1000)
        }
    }

    @Test func noFilePartIsFieldRequired() async throws {
        try await withTemporaryDirectory { directory async throws in
            let body = Array("--Bo\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nx\r\n--Bo--\r\n".utf8)
            await #expect(throws: APIError.invalidRequest("file: Field required")) { try await receive(body, in: directory) }
        }
    }

    @Test(arguments: [
        ("dir/sub/report.pdf", "report.pdf"), ("C:\\Users\\me\\a.txt", "a.txt"), ("", "unnamed.pdf"), ("ok name.pdf", "ok name.pdf"),
    ])
    func storedNames(_ sent: String, _ stored: String) throws {
        #expect(try FileUploadReader.storedName(sent, mimeType: "application/pdf") == stored)
    }

    @Test(arguments: ["a<b", "a|b", "tab\there", String(repeating: "x", count: 256)])
    func refusedNames(_ sent: String) {
        #expect(throws: APIError.self) { try FileUploadReader.storedName(sent, mimeType: "text/plain") }
    }

    @Test func boundaries() {
        #expect(FileUploadReader.boundary(of: "multipart/form-data; boundary=abc") == "abc")
        #expect(FileUploadReader.boundary(of: "Multipart/Form-Data; charset=utf-8; boundary=\"a b\"") == "a b")
        #expect(FileUploadReader.boundary(of: "application/json") == nil)
        #expect(FileUploadReader.boundary(of: "multipart/form-data") == nil)
    }

    @Test func repeatedQueryValues() {
        #expect(FileSource.repeated("ids", in: "ids%5B%5D=a&limit=2&ids[]=b%2Bc&ids=d") == ["a", "b+c", "d"])
        #expect(FileSource.repeated("ids", in: nil) == [])
    }

    @Test func pageCursorsRoundTrip() {
        #expect(FileSource.decodePage(FileSource.encodePage("file_01abc")) == "file_01abc")
        #expect(FileSource.decodePage("nope") == nil)
        #expect(FileSource.decodePage("page_zz") == nil)
    }

    @Test(arguments: TapedeckConfiguration.Mode.allCases)
    func filesAreTheCassettesStateInEveryMode(_ mode: TapedeckConfiguration.Mode) {
        for onMiss in TapedeckConfiguration.OnMiss.allCases {
            #expect(Policy.plan(mode: mode, onMiss: onMiss, fallback: .files, canRecord: true) == [.ask(.files)])
        }
        // The translated endpoint replays its own recordings first, and is never a miss error itself.
        #expect(Policy.plan(mode: .replay, onMiss: .error, fallback: .translated, canRecord: false) == [.ask(.replay), .ask(.translated)])
    }
}
