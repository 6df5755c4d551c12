import Hummingbird
import MessagesAPI
import NIOCore

extension Request {
    /// The whole body, refusing more than `limit` bytes with the API's 413 (naming this limit) and a body cut
    /// short or badly framed with a 400: every route that reads a body says the same thing the same way.
    func bodyBytes(upTo limit: Int) async throws(APIError) -> [UInt8] {
        do {
            return Array(try await body.collect(upTo: limit).readableBytesView)
        } catch is NIOTooManyBytesError {
            throw APIError.requestTooLarge(limit: limit)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw APIError.requestTooLarge(limit: limit)
        } catch {
            throw APIError.invalidRequest("The request body could not be read: it ended early or its framing is malformed.")
        }
    }
}
