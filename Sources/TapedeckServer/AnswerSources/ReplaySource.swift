import Cassette
import MessagesAPI
import NIOCore
import Synthesis

/// Answers a request from a recording, in the style the request asked for; passes when nothing recorded matches.
///
/// Same style: the recorded bytes, exactly. A streamed recording asked for as JSON: its assembled Message (or, if
/// the stream died with an `error` event, that error with its HTTP status). A JSON recording asked for as a
/// stream: events built from the Message with the API's grammar.
final class ReplaySource: AnswerSource {
    var kind: SourceKind { .replay }
    let pace: TapedeckConfiguration.Pace
    let speed: Double
    /// The models now; a replayed `/v1/models` answer teaches it, so synthesis accepts what the list offered.
    let models: ModelRegistry
    /// Answers built once per recording and asked-for style: a replayed hit is then an index lookup and this,
    /// with no row read. The only cache of replayed data; bounded by the answers' bytes, across cassettes (a
    /// closed cassette's answers age out like any other).
    private let prepared = BoundedCache<PreparedKey, Answer>(budget: ReplaySource.preparedBudget)

    /// Bytes of prepared answers kept.
    static let preparedBudget = Limits.preparedAnswerBytes

    struct PreparedKey: Hashable {
        /// The cassette's path, since row ids repeat across per-test cassettes, and a closed and reopened cassette
        /// is a new `Tape` object.
        var cassette: String
        var id: Int64
        /// The same recording is answered one way as JSON and another as a stream.
        var wantsStream: Bool
    }

    /// The prompt caches fixture answers account against; `nil`: fixtures report no cache use.
    let caches: PromptCacheBook?

    init(pace: TapedeckConfiguration.Pace, speed: Double, models: ModelRegistry, caches: PromptCacheBook? = nil) {
        self.pace = pace
        self.speed = speed
        self.models = models
        self.caches = caches
    }

    convenience init(pace: TapedeckConfiguration.Pace, speed: Double, catalog: ModelCatalog) {
        self.init(pace: pace, speed: speed, models: ModelRegistry(catalog))
    }

    /// The recording for `request` (its fingerprint's next occurrence, else a loose fixture), answered in the
    /// style the request asked for; `nil` when the cassette holds none.
    @inline(never)  // its own frame, not part of every caller's: see `AnswerSource`
    func answer(_ request: IncomingRequest, tape: Tape) async throws -> Answer? {
        // Exact fingerprints win; hand-written loose fixtures answer only what nothing exact does.
        if let id = try await tape.recordingID(for: request.fingerprint, occurrence: request.occurrence) {
            let key = PreparedKey(cassette: tape.path, id: id, wantsStream: request.wantsStream)
            // A prepared answer was marked used when it was prepared, and stays used for the run (the counters
            // outlive a closed tape), so a hit takes no lock for it.
            if let answer = prepared.value(for: key) { return answer }
            tape.counters.markUsed(id)
            guard let recording = try await tape.recording(id: id) else { return nil }
            learnModels(from: recording)
            // Everything an exact recording's answer depends on is in the key: the recording, the style, and the
            // fingerprint (the recording's own), which seeds a rebuilt stream.
            let answer = answer(recording, to: request)
            prepared.set(answer, for: key, cost: answer.size)
            return answer
        }
        // A fixture's answer is completed for each request (its id, model and usage follow the request).
        // Fixtures describe Messages answers: a path Tapedeck does not model has exact recordings only.
        guard !request.isUnmodeled else { return nil }
        guard let fixture = tape.looseRecording(for: request.body) else { return nil }
        if let id = fixture.id { tape.counters.markUsed(id) }
        return answer(fixture, to: request)
    }

    /// What a recording teaches the registry: done once per recording, when its answer is first prepared.
    func learnModels(from recording: Interaction) {
        let body = recording.isStream ? recording.message : Interaction.json(recording.responseBody)
        models.learn(fromAnswerTo: recording.path, status: recording.status, body: body)
    }

    func answer(_ interaction: Interaction, to request: IncomingRequest) -> Answer {
        let wantsStream = request.wantsStream
        let fingerprint = request.fingerprint
        if interaction.isFixture, let partial = interaction.message {
            var message = complete(partial, for: request)
            request.faults?.stop?.apply(to: &message)
            let headers =
                HeaderPolicy.portable(interaction.responseHeaders.map { ($0.name, $0.value) })
                + [("request-id", request.requestID)]
            var answer =
                wantsStream
                ? Answer(headers: headers, body: .events(StreamBuilder(seed: fingerprint.seed).events(for: message)), source: .recorded)
                : Answer(headers: headers, body: .json(ByteBuffer(bytes: JSONWriter.bytes(message.json))), source: .recorded)
            answer.tokens = (message.usage.inputTokens + (message.usage.cacheCreationInputTokens ?? 0), message.usage.outputTokens)
            return answer
        }
        let headers = interaction.responseHeaders.map { ($0.name, $0.value) }
        var portable: [(String, String)] { HeaderPolicy.portable(headers) }
        if request.isUnmodeled {
            // Tapedeck knows nothing of this answer's form: the bytes as recorded, a stream as a stream.
            let body: Answer.Body =
                interaction.isStream
                ? .recordedStream(
                    bytes: ByteBuffer(bytes: interaction.responseBody),
                    pacing: pace == .recorded
                        ? Answer.Pacing(events: interaction.events.map { ($0.byteEnd, $0.offsetMilliseconds) }, speed: speed) : nil)
                : .json(ByteBuffer(bytes: interaction.responseBody))
            return Answer(status: interaction.status, headers: headers, body: body, source: .recorded)
        }

        if interaction.isStream && !wantsStream && interaction.path.hasSuffix("/messages") {
            let assembler = MessageAssembler.assemble(
                interaction.events.map { SSEEvent(name: $0.name, data: $0.data) })
            if !assembler.isComplete, let error = assembler.error {
                let status = APIError.Code(error["error"]?["type"]?.stringValue ?? "api_error").status
                return Answer(status: status, headers: portable, body: .json(ByteBuffer(bytes: JSONWriter.bytes(error))), source: .recorded)
            }
            if let message = interaction.message ?? assembler.assembled {
                return Answer(
                    status: interaction.status, headers: portable, body: .json(ByteBuffer(bytes: JSONWriter.bytes(message))),
                    source: .recorded)
            }
        }

        if !interaction.isStream && wantsStream && interaction.status == 200,
            let json = try? JSONParser.parse(interaction.responseBody), let message = try? Message(json: json)
        {
            let events = StreamBuilder(seed: fingerprint.seed).events(for: message)
            return Answer(status: 200, headers: portable, body: .events(events), source: .recorded)
        }

        if interaction.isStream {
            let pacing =
                pace == .recorded
                ? Answer.Pacing(events: interaction.events.map { ($0.byteEnd, $0.offsetMilliseconds) }, speed: speed)
                : nil
            return Answer(
                status: interaction.status, headers: headers,
                body: .recordedStream(bytes: ByteBuffer(bytes: interaction.responseBody), pacing: pacing), source: .recorded)
        }
        return Answer(
            status: interaction.status, headers: headers, body: .json(ByteBuffer(bytes: interaction.responseBody)), source: .recorded)
    }

    /// A hand-written partial Message made whole for this request: what the fixture gives wins; the id, model,
    /// usage and stop fields are derived the way synthesis derives them.
    func complete(_ partial: JSONValue, for request: IncomingRequest) -> Message {
        let given = partial.objectValue ?? JSONObject()
        let requestModel = request.body?["model"]?.stringValue ?? "claude-sonnet-4-5"
        var content: [ContentBlock] = []
        var outputText = ""
        for (i, block) in (given["content"]?.arrayValue ?? []).enumerated() {
            guard case .object(var object) = block else { continue }
            if object["type"] == nil { object["type"] = "text" }
            if object["type"] == "tool_use" {
                if object["id"] == nil {
                    object["id"] = .string(Identifier.make(prefix: Identifier.toolUse, seed: request.fingerprint.bytes, label: "\(i)"))
                }
                if object["input"] == nil { object["input"] = .object(JSONObject()) }
            }
            outputText += object["text"]?.stringValue ?? object["thinking"]?.stringValue ?? object["input"].map(JSONWriter.string) ?? ""
            content.append(ContentBlock(object))
        }
        let catalog = models.catalog
        var inputTokens = 0
        var parsed: MessagesRequest?
        if let body = request.body?.objectValue,
            let request = try? RequestValidator(catalog: catalog).validateShape(body, endpoint: .messages, dialect: .lenient)
        {
            inputTokens = TokenEstimator.inputTokens(for: request)
            parsed = request
        }
        let hasToolUse = content.contains { if case .toolUse = $0 { true } else { false } }
        let modelID = catalog.model(named: requestModel)?.id ?? requestModel
        var usage = Usage(
            inputTokens: inputTokens, outputTokens: max(1, TokenEstimator.count(outputText)),
            cacheCreationInputTokens: 0, cacheReadInputTokens: 0)
        if let caches, let parsed { usage = caches.usage(usage, for: parsed, model: modelID, cassette: request.cassetteName) }
        for (key, value) in given["usage"]?.objectValue ?? JSONObject() { usage.set(value, forKey: key) }
        var message = Message(
            id: Identifier.make(prefix: Identifier.message, seed: request.fingerprint.bytes),
            model: modelID,
            content: content, stopReason: hasToolUse ? "tool_use" : "end_turn", usage: usage)
        // What the fixture gives wins, in the standard places, whatever its type.
        for key in ["model", "id", "stop_reason", "stop_sequence", "stop_details"] {
            if let value = given[key] { message.set(value, forKey: key) }
        }
        return message
    }
}
