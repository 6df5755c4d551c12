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
        var pieces: [String] = []
        var current = ""
        var words = 0
        var state = seed | 1
        func nextGroupSize() -> Int {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return Int(state % 5) + 1
        }
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

    /// The events for `message` (a complete Message object).
    public func events(for message: JSONValue) -> [SSEEvent] {
        guard case .object(let full) = message else { return [] }
        var events: [SSEEvent] = []
        func emit(_ json: JSONValue) { events.append(encoder.event(json, index: events.count)) }

        let usage = full["usage"]?.objectValue ?? JSONObject()
        var startUsage = usage
        startUsage["output_tokens"] = .int(min(1, usage["output_tokens"]?.intValue ?? 1))
        startUsage["output_tokens_details"] = nil
        var start = JSONObject()
        for (key, value) in full {
            switch key {
            case "content": start[key] = .array([])
            case "stop_reason", "stop_sequence", "stop_details": start[key] = .null
            case "usage": start[key] = .object(startUsage)
            default: start[key] = value
            }
        }
        emit(["type": "message_start", "message": .object(start)])

        let blocks = full["content"]?.arrayValue ?? []
        for (index, blockValue) in blocks.enumerated() {
            guard case .object(let block) = blockValue else { continue }
            let type = block["type"]?.stringValue ?? "text"
            var startBlock = block
            var deltas: [JSONValue] = []
            switch type {
            case "text":
                startBlock = ["type": "text", "text": ""]
                if let citations = block["citations"]?.arrayValue, !citations.isEmpty {
                    startBlock["citations"] = .array([])
                    for citation in citations {
                        deltas.append(["type": "citations_delta", "citation": citation])
                    }
                }
                for piece in splitter(block["text"]?.stringValue ?? "") {
                    deltas.append(["type": "text_delta", "text": .string(piece)])
                }
            case "thinking":
                startBlock = ["type": "thinking", "thinking": "", "signature": ""]
                for piece in splitter(block["thinking"]?.stringValue ?? "") {
                    deltas.append(["type": "thinking_delta", "thinking": .string(piece)])
                }
                deltas.append(["type": "thinking_delta", "thinking": ""])
                deltas.append(["type": "signature_delta", "signature": block["signature"] ?? ""])
            case "tool_use", "server_tool_use", "mcp_tool_use":
                startBlock["input"] = .object(JSONObject())
                deltas.append(["type": "input_json_delta", "partial_json": ""])
                let input = block["input"] ?? .object(JSONObject())
                if input != .object(JSONObject()) {
                    for piece in Self.splitJSON(JSONWriter.string(input), seed: encoder.seed &+ UInt64(index)) {
                        deltas.append(["type": "input_json_delta", "partial_json": .string(piece)])
                    }
                }
            default:
                break  // redacted_thinking and result blocks arrive whole in their start event.
            }
            emit(["type": "content_block_start", "index": .int(index), "content_block": .object(startBlock)])
            if index == 0 { events.append(SSEEncoder.ping) }
            for delta in deltas {
                emit(["type": "content_block_delta", "index": .int(index), "delta": delta])
            }
            emit(["type": "content_block_stop", "index": .int(index)])
        }
        if blocks.isEmpty { events.append(SSEEncoder.ping) }

        var deltaUsage = JSONObject()
        for key in ["input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "output_tokens",
            "output_tokens_details", "server_tool_use"]
        {
            if let value = usage[key] { deltaUsage[key] = value }
        }
        emit([
            "type": "message_delta",
            "delta": [
                "stop_reason": full["stop_reason"] ?? .null,
                "stop_sequence": full["stop_sequence"] ?? .null,
                "stop_details": full["stop_details"] ?? .null,
            ],
            "usage": .object(deltaUsage),
        ])
        emit(["type": "message_stop"])
        return events
    }
}
