import HTTPTypes
import Hummingbird
import MessagesAPI
import NIOCore

extension APIError {
    /// The envelope response: every error a client sees is sent through here (or, before HTTP parsing is done,
    /// by `ConnectionGuard` with the same body), with the request id of the request it answers.
    func makeResponse(requestID: String) -> Response {
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
    static let tapedeckSource = Self(HeaderPolicy.sourceHeader)!  // lint: allow a valid constant header name
    static let tapedeckFault = Self(HeaderPolicy.faultHeader)!  // lint: allow a valid constant header name
}
