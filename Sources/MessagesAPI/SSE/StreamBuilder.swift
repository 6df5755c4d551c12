/// Turns a complete Message into the event sequence the API would have streamed for it: message_start,
/// each block as start / deltas / stop, a ping after the first block start, message_delta, message_stop.
public struct StreamBuilder: Sendable {
    /// Splits a block's text into the pieces sent as deltas.
    public typealias Splitter = @Sendable (String) -> [String]

    public let encoder: SSEEncoder
    public let splitter: Splitter

    public init(seed: UInt64, splitter: Splitter? = nil) {
        self.encoder = SSEEncoder(seed: seed)
        self.splitter = splitter ?? { StreamBuilder.splitWords($0, seed: seed) }
    }

    /// Splits text into runs of one to five words (whitespace kept with the following word), deterministically.
    public static func splitWords(_ text: String, seed: UInt64) -> [String] {
        guard !text.isEmpty else { return [] }
        // ASCII without `\r` (synthesized prose, most JSON) splits the same on bytes, several times faster than on
        // Characters; `\r\n` is one Character, so `\r` takes the Character path.
        if text.utf8.allSatisfy({ $0 < 0x80 && $0 != 0x0D }) { return asciiSplitWords(text, seed: seed) }
        return characterSplitWords(text, seed: seed)
    }

    /// The sizes of successive groups of words: the same sequence for both paths.
    struct GroupSizes {
        var state: UInt64
        init(seed: UInt64) { state = seed | 1 }
        mutating func next() -> Int {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return Int(state % 5) + 1
        }
    }

    static func asciiSplitWords(_ text: String, seed: UInt64) -> [String] {
        let bytes = Array(text.utf8)
        var pieces: [String] = []
        var sizes = GroupSizes(seed: seed)
        var target = sizes.next()
        var start = 0
        var words = 0
        var previousWasSpace = false
        for (i, byte) in bytes.enumerated() {
            let isSpace = Unicode.Scalar(byte).properties.isWhitespace
            if isSpace && !previousWasSpace && i > start {
                words += 1
                if words >= target {
                    pieces.append(String(decoding: bytes[start..<i], as: UTF8.self))
                    start = i
                    words = 0
                    target = sizes.next()
                }
            }
            previousWasSpace = isSpace
        }
        if start < bytes.count { pieces.append(String(decoding: bytes[start...], as: UTF8.self)) }
        return pieces
    }

    static func characterSplitWords(_ text: String, seed: UInt64) -> [String] {
        guard !text.isEmpty else { return [] }
        var pieces: [String] = []
        var current = ""
        var words = 0
        var sizes = GroupSizes(seed: seed)
        func nextGroupSize() -> Int { sizes.next() }
        var target = nextGroupSize()
        var previousWasSpace = false
        for ch in text {
            let isSpace = ch.isWhitespace
            if isSpace && !previousWasSpace && !current.isEmpty {
                words += 1
                if words >= target {
                    pieces.append(current)
                    current = ""
                    words = 0
                    target = nextGroupSize()
                }
            }
            current.append(ch)
            previousWasSpace = isSpace
        }
        if !current.isEmpty { pieces.append(current) }
        return pieces
    }

    /// Splits a JSON text into a few pieces for `input_json_delta`, at character boundaries.
    public static func splitJSON(_ text: String, seed: UInt64) -> [String] {
        guard !text.isEmpty else { return [] }
        var pieces: [String] = []
        var current = ""
        var state = seed | 1
        var target = 8
        for ch in text {
            current.append(ch)
            if current.count >= target {
                pieces.append(current)
                current = ""
                state = state &* 6364136223846793005 &+ 1442695040888963407
                target = Int((state >> 33) % 12) + 4
            }
        }
        if !current.isEmpty { pieces.append(current) }
        return pieces
    }

    /// The events for `message`: its keys in its own order in `message_start` (content empty, stop fields
    /// `null`, output tokens at most 1), each block started empty and filled by deltas, then the stop fields and
    /// the cumulative usage in `message_delta`.
    public func events(for message: Message) -> [SSEEvent] {
        var events: [SSEEvent] = []
        func emit(_ json: JSONValue) { events.append(encoder.event(json, index: events.count)) }

        var startUsage = message.usage
        startUsage.outputTokens = min(1, message.usage.has("output_tokens") ? message.usage.outputTokens : 1)
        startUsage.outputTokensDetails = nil
        let start = message.object { key in
            switch key {
            case "content": .array([])
            case "stop_reason", "stop_sequence", "stop_details": .null
            case "usage": startUsage.json
            default: nil
            }
        }
        emit(["type": "message_start", "message": .object(start)])

        for (index, block) in message.content.enumerated() {
            let startBlock: JSONValue
            var deltas: [JSONValue] = []
            switch block {
            case .text(let text):
                let citations = text.citations ?? []
                startBlock = ContentBlock.text(.init(text: "", citations: citations.isEmpty ? nil : [])).json
                for citation in citations {
                    deltas.append(["type": "citations_delta", "citation": citation])
                }
                for piece in splitter(text.text) {
                    deltas.append(["type": "text_delta", "text": .string(piece)])
                }
            case .thinking(let thinking):
                startBlock = ContentBlock.thinking(.init(thinking: "", signature: "")).json
                for piece in splitter(thinking.thinking) {
                    deltas.append(["type": "thinking_delta", "thinking": .string(piece)])
                }
                deltas.append(["type": "thinking_delta", "thinking": ""])
                deltas.append(["type": "signature_delta", "signature": .string(thinking.signature)])
            case .toolUse(let call), .serverToolUse(let call), .mcpToolUse(let call):
                var empty = call
                empty.input = .object(JSONObject())
                startBlock = .object(empty.object(type: block.type))
                deltas.append(["type": "input_json_delta", "partial_json": ""])
                if call.input != .object(JSONObject()) {
                    for piece in Self.splitJSON(JSONWriter.string(call.input), seed: encoder.seed &+ UInt64(index)) {
                        deltas.append(["type": "input_json_delta", "partial_json": .string(piece)])
                    }
                }
            case .redactedThinking, .other:
                startBlock = block.json  // redacted_thinking and result blocks arrive whole in their start event.
            }
            emit(["type": "content_block_start", "index": .int(index), "content_block": startBlock])
            if index == 0 { events.append(SSEEncoder.ping) }
            for delta in deltas {
                emit(["type": "content_block_delta", "index": .int(index), "delta": delta])
            }
            emit(["type": "content_block_stop", "index": .int(index)])
        }
        if message.content.isEmpty { events.append(SSEEncoder.ping) }

        // message_delta repeats the counts that grew, as the API does; everything else stays in message_start.
        let usage = message.usage.object
        var deltaUsage = JSONObject()
        for key in [
            "input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "output_tokens",
            "output_tokens_details", "server_tool_use",
        ] {
            if let value = usage[key] { deltaUsage[key] = value }
        }
        emit([
            "type": "message_delta",
            "delta": [
                "stop_reason": message.stopReason.map(JSONValue.string) ?? .null,
                "stop_sequence": message.stopSequence.map(JSONValue.string) ?? .null,
                "stop_details": message.stopDetails.map(JSONValue.object) ?? .null,
            ],
            "usage": .object(deltaUsage),
        ])
        emit(["type": "message_stop"])
        return events
    }
}
