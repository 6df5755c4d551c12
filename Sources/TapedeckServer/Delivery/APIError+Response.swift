import HTTPTypes
import Hummingbird
import MessagesAPI
import NIOCore

extension APIError {
    /// The envelope response with a request id derived from the error itself, so it is the same on every run.
    func makeResponse() -> Response {
        let requestID = Identifier.make(prefix: Identifier.request, seed: Array("\(status) \(type) \(message)".utf8))
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers[.requestID] = requestID
        headers[.tapedeckSource] = "tapedeck"
        for (name, value) in self.headers {
            if let field = HTTPField.Name(name) { headers[field] = value }
        }
        return Response(
            status: .init(code: status),
            headers: headers,
            body: .init(byteBuffer: ByteBuffer(bytes: JSONWriter.bytes(body(requestID: requestID))))
        )
    }
}

extension HTTPField.Name {
    static let requestID = Self("request-id")!  // lint: allow a valid literal header name
    static let tapedeckSource = Self("tapedeck-source")!  // lint: allow a valid literal header name
    static let organizationID = Self("anthropic-organization-id")!  // lint: allow a valid literal header name
}
