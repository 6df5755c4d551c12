/// A validated `POST /v1/messages` (or count_tokens) body, with the fields synthesis needs pulled out.
/// The original JSON stays alongside, since fingerprints and recordings use exactly what the client sent.
public struct MessagesRequest: Sendable {
    public struct Message: Sendable {
        public let role: String
        /// Content normalized to blocks: a string becomes one text block.
        public let blocks: [JSONObject]
    }

    public struct Tool: Sendable {
        public let name: String
        public let description: String?
        /// `nil` for typed server tools.
        public let inputSchema: JSONValue?
    }

    public enum ToolChoice: Sendable, Equatable {
        case auto
        case any
        case tool(String)
        case none
    }

    public enum Thinking: Sendable, Equatable {
        case disabled
        case enabled(budgetTokens: Int, omitted: Bool)
        case adaptive(omitted: Bool)
    }

    public let body: JSONObject
    public let model: String
    /// `nil` for count_tokens.
    public let maxTokens: Int?
    public let messages: [Message]
    public let system: String
    public let stream: Bool
    public let stopSequences: [String]
    public let tools: [Tool]
    public let toolChoice: ToolChoice
    public let thinking: Thinking

    /// The text of the last user turn, for synthesis and for people reading lists of recordings.
    public var lastUserText: String {
        guard let message = messages.last(where: { $0.role == "user" }) else { return "" }
        return message.blocks.compactMap { block -> String? in
            switch block["type"]?.stringValue {
            case "text": block["text"]?.stringValue
            case "tool_result": Self.text(of: block["content"])
            default: nil
            }
        }.joined(separator: " ")
    }

    /// Whether the conversation's last user turn answers a tool call.
    public var endsWithToolResult: Bool {
        messages.last?.role == "user"
            && messages.last?.blocks.contains { $0["type"]?.stringValue == "tool_result" } == true
    }

    static func text(of content: JSONValue?) -> String? {
        switch content {
        case .string(let s)?: s
        case .array(let blocks)?: blocks.compactMap { $0["text"]?.stringValue }.joined(separator: " ")
        default: nil
        }
    }
}
