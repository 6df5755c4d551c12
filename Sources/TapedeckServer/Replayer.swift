import Cassette
import HTTPTypes
import Hummingbird
import MessagesAPI
import NIOCore
import Synchronization
import Synthesis

/// Answers a request from a recording, in the style the request asked for.
///
/// Same style: the recorded bytes, exactly. A streamed recording asked for as JSON: its assembled Message (or, if
/// the stream died with an `error` event, that error with its HTTP status). A JSON recording asked for as a
/// stream: events built from the Message with the API's grammar.
final class Replayer: Sendable {
    let pace: TapedeckConfiguration.Pace
    let speed: Double
    let catalog: ModelCatalog
    /// Same-style answers built once per recording: a replayed hit is then just a lookup. Keyed by cassette too:
    /// row ids repeat across per-test cassettes.
    /// Bounded by bytes, across cassettes: a closed cassette's answers age out like any other.
    private let prepared = BoundedCache<PreparedKey, Response>(budget: Replayer.preparedBudget)

    /// Bytes of prepared answers kept.
    static let preparedBudget = 64 * 1024 * 1024

    struct PreparedKey: Hashable {
        /// The cassette's path: a closed and reopened cassette is a new `Tape` object, and a freed object's
        /// identity may be reused by another cassette's.
        var cassette: String
        var id: Int64
    }

    init(pace: TapedeckConfiguration.Pace, speed: Double, catalog: ModelCatalog) {
        self.pace = pace
        self.speed = speed
        self.catalog = catalog
    }

    /// The response for a recording in the style it was recorded in, built on first use and then reused.
    /// Paced streams are excluded: their bodies wait between events and are built per request.
    func respond(_ interaction: Interaction, to exchange: Dispatcher.Exchange) -> Response {
        let sameStyle = !interaction.isFixture && (interaction.isStream == exchange.wantsStream
            || !interaction.path.hasSuffix("/messages") || interaction.status != 200 && !interaction.isStream)
        guard sameStyle, !(interaction.isStream && pace == .recorded), let id = interaction.id else {
            return answer(interaction, to: exchange).response()
        }
        let key = PreparedKey(cassette: exchange.tape.path, id: id)
        if let response = prepared.value(for: key) { return response }
        let response = answer(interaction, to: exchange).response()
        prepared.set(response, for: key, cost: interaction.size)
        return response
    }

    /// Response headers that only make sense for the recorded body's own form.
    static let formHeaders: Set<String> = ["content-type", "cache-control", "content-length", "transfer-encoding"]

    func answer(_ interaction: Interaction, to exchange: Dispatcher.Exchange) -> Answer {
        let wantsStream = exchange.wantsStream
        let fingerprint = exchange.fingerprint
        if interaction.isFixture, let partial = interaction.message {
            let message = complete(partial, for: exchange)
            let headers = interaction.responseHeaders.map { ($0.name, $0.value) }.filter { !Self.formHeaders.contains($0.0.lowercased()) }
                + [("request-id", Identifier.make(prefix: Identifier.request, seed: fingerprint.bytes, label: "request"))]
            if wantsStream, let message = try? Message(json: message) {
                return Answer(headers: headers, body: .events(StreamBuilder(seed: fingerprint.seed).events(for: message)), source: .recorded)
            }
            return Answer(headers: headers, body: .json(JSONWriter.bytes(message)), source: .recorded)
        }
        let headers = interaction.responseHeaders.map { ($0.name, $0.value) }
        var portable: [(String, String)] { headers.filter { !Self.formHeaders.contains($0.0.lowercased()) } }

        if interaction.isStream && !wantsStream && interaction.path.hasSuffix("/messages") {
            let assembler = MessageAssembler.assemble(
                interaction.events.map { SSEEvent(name: $0.name, data: $0.data) })
            if !assembler.isComplete, let error = assembler.error {
                let status = APIError.status(forType: error["error"]?["type"]?.stringValue ?? "api_error")
                return Answer(status: status, headers: portable, body: .json(JSONWriter.bytes(error)), source: .recorded)
            }
            if let message = interaction.message ?? assembler.assembled {
                return Answer(status: interaction.status, headers: portable, body: .json(JSONWriter.bytes(message)), source: .recorded)
            }
        }

        if !interaction.isStream && wantsStream && interaction.status == 200,
            let json = try? JSONParser.parse(interaction.responseBody), let message = try? Message(json: json)
        {
            let events = StreamBuilder(seed: fingerprint.seed).events(for: message)
            return Answer(status: 200, headers: portable, body: .events(events), source: .recorded)
        }

        if interaction.isStream {
            let pacing = pace == .recorded
                ? Answer.Pacing(events: interaction.events.map { ($0.byteEnd, $0.offsetMilliseconds) }, speed: speed)
                : nil
            return Answer(
                status: interaction.status, headers: headers,
                body: .recordedStream(bytes: interaction.responseBody, pacing: pacing), source: .recorded)
        }
        return Answer(status: interaction.status, headers: headers, body: .json(interaction.responseBody), source: .recorded)
    }

    /// A hand-written partial Message made whole for this request: what the fixture gives wins; the id, model,
    /// usage and stop fields are derived the way synthesis derives them.
    func complete(_ partial: JSONValue, for exchange: Dispatcher.Exchange) -> JSONValue {
        let given = partial.objectValue ?? JSONObject()
        let requestModel = exchange.body?["model"]?.stringValue ?? "claude-sonnet-4-5"
        var content: [ContentBlock] = []
        var outputText = ""
        for (i, block) in (given["content"]?.arrayValue ?? []).enumerated() {
            guard case .object(var object) = block else { continue }
            if object["type"] == nil { object["type"] = "text" }
            if object["type"] == "tool_use" {
                if object["id"] == nil {
                    object["id"] = .string(Identifier.make(prefix: Identifier.toolUse, seed: exchange.fingerprint.bytes, label: "\(i)"))
                }
                if object["input"] == nil { object["input"] = .object(JSONObject()) }
            }
            outputText += object["text"]?.stringValue ?? object["thinking"]?.stringValue ?? object["input"].map(JSONWriter.string) ?? ""
            content.append(ContentBlock(object))
        }
        var inputTokens = 0
        if let body = exchange.body?.objectValue,
            let request = try? RequestValidator(catalog: catalog).validateShape(body, endpoint: .messages)
        {
            inputTokens = TokenEstimator.inputTokens(for: request)
        }
        let hasToolUse = content.contains { if case .toolUse = $0 { true } else { false } }
        var usage = Usage(
            inputTokens: inputTokens, outputTokens: max(1, TokenEstimator.count(outputText)),
            cacheCreationInputTokens: 0, cacheReadInputTokens: 0)
        for (key, value) in given["usage"]?.objectValue ?? JSONObject() { usage.set(value, forKey: key) }
        var message = Message(
            id: Identifier.make(prefix: Identifier.message, seed: exchange.fingerprint.bytes),
            model: catalog.model(named: requestModel)?.id ?? requestModel,
            content: content, stopReason: hasToolUse ? "tool_use" : "end_turn", usage: usage)
        // What the fixture gives wins, in the standard places, whatever its type.
        for key in ["model", "id", "stop_reason", "stop_sequence", "stop_details"] {
            if let value = given[key] { message.set(value, forKey: key) }
        }
        return message.json
    }
}
