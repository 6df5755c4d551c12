/// Folds a stream's events into the Message a non-streaming call would have returned, the way the SDKs'
/// stream helpers accumulate it.
public struct MessageAssembler: Sendable {
    private var message: JSONObject?
    private var blocks: [JSONObject] = []
    private var partialJSON: [Int: String] = [:]
    /// Text and thinking gathered per block, appended in place and put into the blocks once, at the end:
    /// rebuilding a block's string per delta would copy it 160,000 times for a long stream.
    private var texts: [Int: (key: String, text: String)] = [:]
    /// The `error` event's body, when the stream ended with one.
    public private(set) var error: JSONValue?
    /// Whether `message_stop` arrived.
    public private(set) var isComplete = false

    public init() {}

    public mutating func consume(_ event: SSEEvent) {
        guard let json = event.json, let object = json.objectValue else { return }
        let type = object["type"]?.stringValue ?? event.name
        switch type {
        case "message_start":
            message = object["message"]?.objectValue
        case "content_block_start":
            guard let block = object["content_block"]?.objectValue else { return }
            blocks.append(block)
        case "content_block_delta":
            guard let index = object["index"]?.intValue, blocks.indices.contains(index),
                let delta = object["delta"]?.objectValue
            else { return }
            apply(delta, to: index)
        case "content_block_stop":
            guard let index = object["index"]?.intValue, blocks.indices.contains(index) else { return }
            if let text = partialJSON.removeValue(forKey: index) {
                let input = text.isEmpty ? JSONValue.object(JSONObject()) : (try? JSONParser.parse(text)) ?? .object(JSONObject())
                blocks[index]["input"] = input
            }
        case "message_delta":
            if let delta = object["delta"]?.objectValue {
                for (key, value) in delta { message?[key] = value }
            }
            if let usage = object["usage"]?.objectValue {
                // Usage in message_delta is cumulative: its values replace the start's.
                var merged = message?["usage"]?.objectValue ?? JSONObject()
                for (key, value) in usage { merged[key] = value }
                message?["usage"] = .object(merged)
            }
        case "message_stop":
            isComplete = true
        case "error":
            error = json
        default:
            break
        }
    }

    private mutating func apply(_ delta: JSONObject, to index: Int) {
        switch delta["type"]?.stringValue {
        case "text_delta":
            append(delta["text"]?.stringValue ?? "", to: "text", of: index)
        case "thinking_delta":
            append(delta["thinking"]?.stringValue ?? "", to: "thinking", of: index)
        case "signature_delta":
            blocks[index]["signature"] = delta["signature"] ?? .string("")
        case "input_json_delta":
            partialJSON[index, default: ""] += delta["partial_json"]?.stringValue ?? ""
        case "citations_delta":
            guard let citation = delta["citation"] else { return }
            blocks[index]["citations"] = .array((blocks[index]["citations"]?.arrayValue ?? []) + [citation])
        default:
            break
        }
    }

    private mutating func append(_ piece: String, to key: String, of index: Int) {
        if texts[index] == nil { texts[index] = (key, blocks[index][key]?.stringValue ?? "") }
        texts[index]?.text += piece
    }

    /// The assembled Message, or `nil` when no `message_start` was seen.
    public var assembled: JSONValue? {
        guard var message else { return nil }
        var blocks = blocks
        for (index, gathered) in texts { blocks[index][gathered.key] = .string(gathered.text) }
        message["content"] = .array(blocks.map { .object($0) })
        return .object(message)
    }

    /// Assembles a complete list of events.
    public static func assemble(_ events: [SSEEvent]) -> MessageAssembler {
        var assembler = MessageAssembler()
        for event in events { assembler.consume(event) }
        return assembler
    }
}
