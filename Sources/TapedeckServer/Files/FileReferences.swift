import Cassette
import MessagesAPI

/// The `file_id`s a Messages request names (`document` and `image` blocks whose `source` is `{type: "file"}`,
/// also inside tool results), resolved against the cassette's files: a synthesized answer to a request naming a
/// file the store does not hold gets the API's error for it.
enum FileReferences {
    static func ids(in body: JSONValue?) -> [String] {
        var found: [String] = []
        func visit(_ blocks: JSONValue?) {
            guard case .array(let items)? = blocks else { return }
            for block in items {
                if let source = block["source"], source["type"]?.stringValue == "file", let id = source["file_id"]?.stringValue {
                    found.append(id)
                }
                visit(block["content"])
            }
        }
        if case .array(let messages)? = body?["messages"] {
            for message in messages { visit(message["content"]) }
        }
        return found
    }

    /// Throws the API's error for the first id the cassette holds no live file for.
    static func check(_ body: JSONValue?, tape: Tape) async throws {
        for id in ids(in: body) {
            guard tape.isPresent, let file = try await tape.store().file(id: id), !file.isDeleted else {
                // The Files guide's example of this error: a 404, typed as an invalid request.
                throw APIError(status: 404, type: .invalidRequest, message: "File not found: \(id)")
            }
        }
    }
}
