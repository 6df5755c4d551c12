import AsyncHTTPClient
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import MessagesAPI
import NIOCore
import TapedeckServer
import Testing

@Suite("Over a real socket")
struct LiveServerTests {
    @Test func streamsAreChunkedSSEWithTheAPIsHeaders() async throws {
        let app = try await buildApplication(configuration: testConfiguration(), logger: testLogger)
        try await app.test(.live) { client in
            let text =
                #"{"model":"claude-sonnet-4-5","max_tokens":300,"stream":true,"messages":[{"role":"user","content":"Stream please"}]}"#
            try await client.execute(uri: "/v1/messages", method: .post, headers: jsonHeaders, body: body(text)) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "text/event-stream; charset=utf-8")
                #expect(response.headers[.transferEncoding] == "chunked")
                #expect(response.headers[.requestIDHeader]?.hasPrefix("req_01") == true)
                let events = SSEParser.parse(Array(response.body.readableBytesView))
                #expect(events.map(\.name).first == "message_start")
                #expect(events.map(\.name).last == "message_stop")
                #expect(events.contains { $0.name == "ping" })
                #expect(events.filter { $0.name == "content_block_delta" }.count > 1)
            }
            // The connection stays usable: a keep-alive client is not left hanging.
            try await client.execute(uri: "/_tapedeck/health", method: .get) { response in
                #expect(response.status == .ok)
            }
        }
    }
}
