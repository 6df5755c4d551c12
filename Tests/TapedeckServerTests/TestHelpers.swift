import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import MessagesAPI
import NIOCore
import TapedeckServer
import Testing

/// A configuration for tests: a free port, quiet logs.
func testConfiguration(_ edit: (inout TapedeckConfiguration) -> Void = { _ in }) -> TapedeckConfiguration {
    var configuration = TapedeckConfiguration()
    configuration.port = 0
    configuration.logLevel = .warning
    configuration.onMiss = .synthesize
    edit(&configuration)
    return configuration
}

var testLogger: Logger {
    var logger = Logger(label: "tapedeck-test")
    logger.logLevel = .warning
    return logger
}

extension ByteBuffer {
    var json: JSONValue? { try? JSONParser.parse(Array(readableBytesView)) }
    var text: String { String(buffer: self) }
}

extension HTTPField.Name {
    static let requestIDHeader = Self("request-id")!
    static let sourceHeader = Self("tapedeck-source")!
    static let apiKey = Self("x-api-key")!
    static let version = Self("anthropic-version")!
    static let beta = Self("anthropic-beta")!
}

let jsonHeaders: HTTPFields = [.contentType: "application/json", .apiKey: "test", .version: "2023-06-01"]

func body(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

/// Checks the error envelope: status, `error.type`, message, and the request id in both header and body.
func expectEnvelope(_ response: TestResponse, status: Int, type: String, message: String? = nil,
    sourceLocation: SourceLocation = #_sourceLocation) throws
{
    #expect(response.status.code == status, sourceLocation: sourceLocation)
    let json = try #require(response.body.json, sourceLocation: sourceLocation)
    #expect(json["type"] == "error", sourceLocation: sourceLocation)
    #expect(json["error"]?["type"]?.stringValue == type, sourceLocation: sourceLocation)
    if let message { #expect(json["error"]?["message"]?.stringValue == message, sourceLocation: sourceLocation) }
    let requestID = try #require(response.headers[.requestIDHeader], sourceLocation: sourceLocation)
    #expect(Identifier.isWellFormed(requestID, prefix: "req_"), sourceLocation: sourceLocation)
    #expect(json["request_id"]?.stringValue == requestID, sourceLocation: sourceLocation)
}
