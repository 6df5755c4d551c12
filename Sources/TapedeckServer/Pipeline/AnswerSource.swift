import Cassette
import MessagesAPI

/// Something that answers a request: a recording, the upstream, the synthesizer, the model catalog.
///
/// Sources never decide *whether* they answer: the `Pipeline`'s policy does, from the mode, the cassette and the
/// on-miss setting. A source only answers, or refuses as the real API would.
protocol AnswerSource: Sendable {
    /// Which source this is, for the policy (the `tapedeck-source` header comes from `Answer.source`).
    var kind: SourceKind { get }

    /// Refuses a request the real API would refuse, before the pipeline reports it as a miss: with
    /// `--on-miss error`, an invalid request still gets the API's 400, not a 404.
    func check(_ request: IncomingRequest) throws(APIError)

    /// The answer to `request`, whose cassette is `tape`; `nil` when this source has nothing for it (no
    /// recording matches), and the next source in the policy's plan is asked.
    ///
    /// Implementations are `@inline(never)`: inlined into the pipeline, every source's locals became part of one
    /// async frame (about 9 KB), taken from the connection's task whichever source answered. Swift's task
    /// allocator keeps the slabs of the deepest stack a task reached until the task ends, and a connection's task
    /// lasts as long as the connection: each open paced stream held that frame for its whole length.
    func answer(_ request: IncomingRequest, tape: Tape) async throws -> Answer?
}

/// The kinds of answer source.
enum SourceKind: String, Sendable, CaseIterable {
    /// A recording in the cassette (exact fingerprint first, then hand-written loose fixtures).
    case replay
    /// The upstream, whose answer is relayed and saved.
    case record
    /// A deterministic stand-in for an answer nothing recorded: the policy asks it only under `--on-miss
    /// synthesize`, and its answers are noted as misses.
    case synthesis
    /// Tapedeck's own reference data (the model catalog): always answers, and is no miss.
    case catalog
    /// A path Tapedeck does not model, with nothing recorded and no upstream: the API's 404, noted as a miss.
    case unmodeled
    /// The Files API's store in the cassette: state, not recordings, so it alone answers in every mode (and
    /// forwards upstream itself in record mode).
    case files
    /// Another endpoint answered through the Messages engine (`/v1/chat/completions`): it always answers, and
    /// its inner Messages call notes its own miss.
    case translated

    /// The kinds a route may fall back to when nothing recorded answers.
    static let fallbacks: [SourceKind] = [.synthesis, .catalog, .unmodeled, .files, .translated]
}

extension AnswerSource {
    func check(_ request: IncomingRequest) throws(APIError) {}
}
