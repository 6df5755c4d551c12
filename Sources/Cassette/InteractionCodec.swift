import Foundation
import MessagesAPI

/// The readable, lossless JSON Lines form of a cassette: one interaction a line, keys in a fixed order, bodies
/// as JSON, streams as event lists with offsets. Raw text is kept only where JSON cannot rebuild it exactly, so
/// `decode(encode(x)) == x`.
public enum InteractionCodec {
    /// Why a line could not be read, with its place.
    public struct DecodeError: Error, CustomStringConvertible {
        public let line: Int
        public let reason: String
        public var description: String { "line \(line): \(reason)" }
    }

    // MARK: - Encoding

    /// One export line (without the newline).
    public static func encode(_ interaction: Interaction) -> String {
        var request: JSONObject = ["headers": interaction.requestHeaders.json]
        addBody(interaction.requestBody, to: &request)

        var response: JSONObject = ["status": .int(interaction.status), "headers": interaction.responseHeaders.json]
        if interaction.isStream {
            let events = interaction.events.map(encode(event:))
            response["stream"] = .array(events)
            if rebuild(interaction.events) != interaction.responseBody {
                response["raw"] = rawText(interaction.responseBody)
            }
        } else {
            addBody(interaction.responseBody, to: &response)
        }

        var line: JSONObject = [
            "id": interaction.id.map { .int(Int($0)) } ?? .null,
            "recorded_at": .string(interaction.recordedAt),
            "method": .string(interaction.method),
            "path": .string(interaction.path),
            "query": interaction.query.map(JSONValue.string) ?? .null,
            "fingerprint": .string(interaction.fingerprint),
            "occurrence": .int(interaction.occurrence),
            "model": interaction.model.map(JSONValue.string) ?? .null,
        ]
        if let matcher = interaction.matcher { line["match"] = matcher }
        line["request"] = .object(request)
        line["response"] = .object(response)
        if interaction.isFixture, let message = interaction.message { line["response"]?.setMessage(message) }
        return JSONWriter.string(.object(line))
    }

    /// A body as JSON when it parses, plus its exact text when compact JSON would not give it back.
    static func addBody(_ bytes: [UInt8], to object: inout JSONObject) {
        if bytes.isEmpty { return }
        if let json = try? JSONParser.parse(bytes) {
            object["body"] = json
            if JSONWriter.bytes(json) != bytes { object["body_raw"] = rawText(bytes) }
        } else {
            object["body_raw"] = rawText(bytes)
        }
    }

    /// Text as a string when it is UTF-8, or `{"base64": …}` (standard alphabet, padded) otherwise.
    static func rawText(_ bytes: [UInt8]) -> JSONValue {
        if let text = String(validating: bytes, as: UTF8.self) { return .string(text) }
        return ["base64": .string(Data(bytes).base64EncodedString())]
    }

    static func bytes(fromRaw value: JSONValue) -> [UInt8]? {
        if let text = value.stringValue { return Array(text.utf8) }
        if let b64 = value["base64"]?.stringValue { return base64Decoded(b64) }
        return nil
    }

    /// Base64 with or without its padding: Foundation requires the padding, hand-written fixtures may leave it
    /// out, as the decoder before Foundation's allowed.
    static func base64Decoded(_ text: String) -> [UInt8]? {
        var unpadded = Substring(text)
        while unpadded.hasSuffix("=") { unpadded = unpadded.dropLast() }
        let padding = String(repeating: "=", count: (4 - unpadded.utf8.count % 4) % 4)
        return Data(base64Encoded: unpadded + padding).map(Array.init)
    }

    static func encode(event: Interaction.Event) -> JSONValue {
        var out: JSONObject = ["t": .int(event.offsetMilliseconds), "event": .string(event.name)]
        let (json, padding) = split(event.data)
        if let json {
            out["data"] = json
            if padding > 0 { out["pad"] = .int(padding) }
        } else {
            out["data_text"] = .string(event.data)
        }
        return .object(out)
    }

    /// Data as JSON plus the number of spaces before its final `}`, when that rebuilds it exactly.
    static func split(_ data: String) -> (JSONValue?, Int) {
        guard let json = try? JSONParser.parse(data) else { return (nil, 0) }
        let compact = JSONWriter.bytes(json)
        let original = Array(data.utf8)
        if compact == original { return (json, 0) }
        guard compact.last == UInt8(ascii: "}"), original.count > compact.count, original.last == UInt8(ascii: "}") else {
            return (nil, 0)
        }
        let padding = original.count - compact.count
        var padded = compact
        padded.insert(contentsOf: repeatElement(UInt8(ascii: " "), count: padding), at: padded.count - 1)
        return padded == original ? (json, padding) : (nil, 0)
    }

    static func data(of event: JSONValue) -> String? {
        if let text = event["data_text"]?.stringValue { return text }
        guard let json = event["data"] else { return nil }
        var bytes = JSONWriter.bytes(json)
        if let padding = event["pad"]?.intValue, padding > 0, bytes.last == UInt8(ascii: "}") {
            bytes.insert(contentsOf: repeatElement(UInt8(ascii: " "), count: padding), at: bytes.count - 1)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The wire bytes of a list of events.
    static func rebuild(_ events: [Interaction.Event]) -> [UInt8] {
        events.flatMap { SSEEvent(name: $0.name, data: $0.data).bytes }
    }

    // MARK: - Files

    /// Why an export file could not be read: where, and what is wrong there.
    public struct FileError: Error, CustomStringConvertible, Sendable {
        public let file: String
        public let line: Int
        public let reason: String
        public var description: String { "\(file):\(line): \(reason)" }
    }

    /// The whole cassette as JSON Lines, in id order: the same cassette always gives the same text.
    public static func export(_ interactions: [Interaction]) -> String {
        interactions.map { encode($0) + "\n" }.joined()
    }

    /// Reads a whole export (blank lines and `//` comments allowed), failing on the first bad line.
    public static func decodeExport(
        _ text: String, file: String, matcher: RequestMatcher = .standard
    ) throws(FileError) -> [Interaction] {
        var interactions: [Interaction] = []
        var number = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            number += 1
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            // Stored files have lines of their own (`FileCodec`).
            if trimmed.isEmpty || trimmed.hasPrefix("//") || trimmed.hasPrefix(FileCodec.linePrefix) { continue }
            let interaction: Interaction
            do {
                interaction = try decode(String(line), line: number, matcher: matcher)
            } catch {
                throw FileError(file: file, line: error.line, reason: error.reason)
            }
            // What replay could not serve is refused here, with its line, rather than stored to fail later.
            if let damage = interaction.damage { throw FileError(file: file, line: number, reason: damage) }
            interactions.append(interaction)
        }
        return interactions
    }

    // MARK: - Decoding

    /// Fingerprints of loose fixtures start with this; they never collide with SHA-256 hex.
    public static let loosePrefix = "loose:"

    /// Reads one export line. Fields tapedeck can derive may be left out (see `Fixture`).
    /// - Parameters:
    ///   - text: The line.
    ///   - line: Its 1-based number, for errors.
    ///   - matcher: How fingerprints computed here see the request (the server's `--match-*` flags).
    public static func decode(_ text: String, line: Int, matcher: RequestMatcher = .standard) throws(DecodeError)
        -> Interaction
    {
        let value: JSONValue
        do { value = try JSONParser.parse(text) } catch {
            throw DecodeError(line: line, reason: "not valid JSON (\(error.description))")
        }
        guard case .object(let object) = value else { throw DecodeError(line: line, reason: "expected a JSON object") }
        func fail(_ reason: String) -> DecodeError { DecodeError(line: line, reason: reason) }

        let method = object["method"]?.stringValue ?? "POST"
        let path = object["path"]?.stringValue ?? "/v1/messages"
        let request = object["request"]?.objectValue ?? JSONObject()
        let requestBody: [UInt8]
        if let raw = request["body_raw"] {
            guard let bytes = bytes(fromRaw: raw) else { throw fail("request.body_raw: expected a string or {\"base64\": …}") }
            requestBody = bytes
        } else if let body = request["body"] {
            requestBody = JSONWriter.bytes(body)
        } else {
            requestBody = []
        }
        let requestJSON = Interaction.json(requestBody)
        let loose = object["match"]
        if let loose { try Fixture.validate(loose, line: line) }

        guard case .object(let response)? = object["response"] else {
            throw fail("response: missing (an object with status and body, stream, message or error)")
        }
        var status = response["status"]?.intValue ?? 200
        var headers = [HeaderPair](json: response["headers"])
        var responseBody: [UInt8] = []
        var events: [Interaction.Event] = []
        var isStream = false
        var message: JSONValue?
        var isFixture = false

        if let stream = response["stream"] {
            guard case .array(let items) = stream else { throw fail("response.stream: expected a list of events") }
            isStream = true
            var end = 0
            for (i, item) in items.enumerated() {
                guard let name = item["event"]?.stringValue, let data = data(of: item) else {
                    throw fail("response.stream[\(i)]: an event needs \"event\" and \"data\" (or \"data_text\")")
                }
                end += SSEEvent(name: name, data: data).bytes.count
                events.append(.init(offsetMilliseconds: item["t"]?.intValue ?? 0, byteEnd: end, name: name, data: data))
            }
            if let raw = response["raw"] {
                guard let bytes = bytes(fromRaw: raw) else { throw fail("response.raw: expected a string or {\"base64\": …}") }
                responseBody = bytes
            } else {
                responseBody = rebuild(events)
            }
            message = MessageAssembler.assemble(events.map { SSEEvent(name: $0.name, data: $0.data) }).assembled
            if headers.isEmpty { headers = [HeaderPair("content-type", "text/event-stream; charset=utf-8")] }
        } else if let raw = response["body_raw"] {
            guard let bytes = bytes(fromRaw: raw) else { throw fail("response.body_raw: expected a string or {\"base64\": …}") }
            responseBody = bytes
        } else if let body = response["body"] {
            responseBody = JSONWriter.bytes(body)
        } else if let partial = response["message"] {
            // A hand-written answer: completed (ids, usage, model) for each request that matches it.
            guard partial.objectValue != nil else { throw fail("response.message: expected an object") }
            message = partial
            isFixture = true
        } else if let error = response["error"] {
            guard let type = error["type"]?.stringValue else { throw fail("response.error.type: missing") }
            if response["status"] == nil { status = APIError.Code(type).status }
            let text = error["message"]?.stringValue ?? type
            let imported = APIError(status: status, type: .init(type), message: text)
            responseBody = JSONWriter.bytes(imported.body(requestID: imported.requestID))
            if let retry = response["retry_after"] { headers.append(HeaderPair("retry-after", retry.stringValue ?? retry.description)) }
        } else {
            throw fail("response: needs one of body, body_raw, stream, message or error")
        }
        if !isStream && !isFixture && !headers.contains(where: { $0.name == "content-type" }) {
            headers.insert(HeaderPair("content-type", "application/json"), at: 0)
        }

        let fingerprint: String
        if loose != nil, let given = object["fingerprint"]?.stringValue, given.hasPrefix(Self.loosePrefix) {
            fingerprint = given
        } else if let loose {
            // Loose fixtures are keyed by what they say, not where they sit, so moving lines changes nothing.
            let identity: JSONValue = ["match": loose, "response": .object(response)]
            fingerprint = Self.loosePrefix + Fingerprint(method: method, path: path, body: identity).hex.prefix(32)
        } else if let given = object["fingerprint"]?.stringValue {
            guard Fingerprint(hex: given) != nil else { throw fail("fingerprint: expected 64 hex digits") }
            fingerprint = given
        } else {
            guard requestJSON != nil else { throw fail("request.body: needed to match (or give \"match\" for a loose fixture)") }
            fingerprint = matcher.fingerprint(method: method, path: path, body: requestJSON).hex
        }

        return Interaction(
            id: object["id"]?.intValue.map(Int64.init), recordedAt: object["recorded_at"]?.stringValue ?? "",
            method: method, path: path, query: object["query"]?.stringValue, fingerprint: fingerprint,
            occurrence: object["occurrence"]?.intValue ?? 1,
            requestHeaders: [HeaderPair](json: request["headers"]), requestBody: requestBody, status: status,
            responseHeaders: headers, responseBody: responseBody, isStream: isStream, events: events,
            message: message, model: object["model"]?.stringValue ?? requestJSON?["model"]?.stringValue,
            matcher: loose, isFixture: isFixture)
    }
}

extension JSONValue {
    fileprivate mutating func setMessage(_ message: JSONValue) {
        guard case .object(var object) = self else { return }
        object["message"] = message
        self = .object(object)
    }
}
