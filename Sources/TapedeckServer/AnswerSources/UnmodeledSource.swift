import Cassette
import MessagesAPI

/// The fallback of a path under `/v1/` that Tapedeck does not model (skills,
/// whatever ships next): such a request is forwarded and recorded in record and auto mode, and replayed byte for
/// byte; with nothing recorded to replay, it gets the API's own answer to a path it does not know.
struct UnmodeledSource: AnswerSource {
    var kind: SourceKind { .unmodeled }

    @inline(never)  // its own frame, not part of every caller's: see `AnswerSource`
    func answer(_ request: IncomingRequest, tape: Tape) async throws -> Answer? {
        throw APIError.notFound("Not Found")
    }
}
