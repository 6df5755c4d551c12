import Cassette
import MessagesAPI
import NIOCore
import Synchronization

/// Makes a recorded batch answer the plain calls it stands for: when the upstream's results file for a batch
/// created through this server is recorded, each `succeeded` line is saved as well as the recording of its
/// request's `POST /v1/messages` (the k-th of identical requests as occurrence k), so one cassette serves both
/// paths, as a batch Tapedeck makes is answered from `/v1/messages` recordings.
final class BatchRecorder: Sendable {
    /// The requests of batches the upstream made in this run, by cassette and upstream batch id.
    private let creates = Mutex<[String: [String: BatchCreateRequest]]>([:])

    /// Notes the requests of a create the upstream answered with a batch.
    func noteCreate(_ create: BatchCreateRequest, answer: Answer, cassette: String) {
        guard answer.source == .proxied, answer.status == 200, case .json(let buffer) = answer.body,
            let id = (try? JSONParser.parse(buffer.readableBytesView))?["id"]?.stringValue
        else { return }
        creates.withLock { $0[cassette, default: [:]][id] = create }
    }

    /// Saves each succeeded result of batch `id` (whose results file the upstream just answered) as a
    /// `/v1/messages` recording. A batch created in an earlier run is not known here, and adds nothing.
    func recordResults(of id: String, answer: Answer, request: IncomingRequest, tape: Tape, record: RecordSource) async {
        guard answer.source == .proxied, answer.status == 200, case .json(let buffer) = answer.body,
            let create = creates.withLock({ $0[request.cassetteName]?[id] })
        else { return }
        var params: [String: JSONValue] = [:]
        for item in create.items { params[item.customID] = item.params }
        var seen: [Fingerprint: Int] = [:]
        for line in buffer.readableBytesView.split(separator: UInt8(ascii: "\n")) {
            guard let entry = try? JSONParser.parse(line), let customID = entry["custom_id"]?.stringValue,
                entry["result"]?["type"] == "succeeded", let message = entry["result"]?["message"],
                case .object(var body)? = params[customID]
            else { continue }
            body["stream"] = nil
            let fingerprint = request.matcher.fingerprint(method: "POST", path: Route.messages.path, body: .object(body))
            let occurrence = seen[fingerprint, default: 0] + 1
            seen[fingerprint] = occurrence
            let interaction = Interaction(
                recordedAt: "", method: "POST", path: Route.messages.path, query: nil, fingerprint: fingerprint.hex,
                occurrence: occurrence, requestHeaders: [HeaderPair("content-type", "application/json")],
                requestBody: JSONWriter.bytes(.object(body)), status: 200,
                responseHeaders: [HeaderPair("content-type", "application/json")],
                responseBody: record.redactor.redact(bytes: JSONWriter.bytes(message)), isStream: false, events: [], message: nil,
                model: body["model"]?.stringValue)
            // The results file itself is saved and on its way: a derived recording the cassette cannot take is
            // logged by `save` and skipped, rather than failing the answer the client asked for.
            do { try await record.save(interaction, to: tape) } catch { continue }
        }
    }
}
