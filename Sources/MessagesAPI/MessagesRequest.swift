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

    /// What the person typed in the last user turn: its text blocks joined with newlines (string content is one
    /// text block). Tool results, images and other blocks are left out. Fixture matchers (`last_user`) compare
    /// against this, and lists of recordings show it.
    public var lastUserText: String {
        messages.last(where: { $0.role == "user" }).map { Self.text(ofTurn: $0.blocks, toolResults: false) } ?? ""
    }

    /// Everything in the last user turn an answer could reply to: `lastUserText` plus the text of its
    /// `tool_result` blocks, in block order, joined with newlines. Synthesis takes its topic from this.
    public var lastUserTextWithToolResults: String {
        messages.last(where: { $0.role == "user" }).map { Self.text(ofTurn: $0.blocks, toolResults: true) } ?? ""
    }

    /// `lastUserText` of a body that may not be valid: the same text, read from raw JSON.
    public static func lastUserText(in body: JSONValue) -> String {
        guard let last = body["messages"]?.arrayValue?.last(where: { $0["role"] == "user" }) else { return "" }
        switch last["content"] {
        case .string(let text)?: return text
        case .array(let blocks)?: return text(ofTurn: blocks.compactMap(\.objectValue), toolResults: false)
        default: return ""
        }
    }

    /// The one reading of a turn's text behind `lastUserText` and `lastUserTextWithToolResults`.
    static func text(ofTurn blocks: [JSONObject], toolResults: Bool) -> String {
        blocks.compactMap { block -> String? in
            switch block["type"]?.stringValue {
            case "text": block["text"]?.stringValue
            case "tool_result" where toolResults: text(of: block["content"])
            default: nil
            }
        }.joined(separator: "\n")
    }

    /// Whether the conversation's last user turn answers a tool call.
    public var endsWithToolResult: Bool {
        messages.last?.role == "user"
            && messages.last?.blocks.contains { $0["type"]?.stringValue == "tool_result" } == true
    }

    static func text(of content: JSONValue?) -> String? {
        switch content {
        case .string(let s)?: s
        case .array(let blocks)?: blocks.compactMap { $0["text"]?.stringValue }.joined(separator: "\n")
        default: nil
        }
    }
}
