import Cassette
import MessagesAPI

/// Answers a request from a recording, in the style the request asked for.
///
/// Same style: the recorded bytes, exactly. A streamed recording asked for as JSON: its assembled Message (or, if
/// the stream died with an `error` event, that error with its HTTP status). A JSON recording asked for as a
/// stream: events built from the Message with the API's grammar.
struct Replayer: Sendable {
    let pace: TapedeckConfiguration.Pace
    let speed: Double

    /// Response headers that only make sense for the recorded body's own form.
    static let formHeaders: Set<String> = ["content-type", "cache-control", "content-length", "transfer-encoding"]

    func answer(_ interaction: Interaction, wantsStream: Bool, fingerprint: Fingerprint) -> Answer {
        let headers = interaction.responseHeaders.map { ($0.name, $0.value) }
        let portable = headers.filter { !Self.formHeaders.contains($0.0.lowercased()) }

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
            let message = try? JSONParser.parse(interaction.responseBody), message["type"] == "message"
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
}
