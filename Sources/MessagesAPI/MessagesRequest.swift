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
        /// `defer_loading: true`: the tool is not in the model's context until a tool search finds it, so a
        /// synthesized turn never calls it.
        public var deferred = false

        public init(name: String, description: String?, inputSchema: JSONValue?, deferred: Bool = false) {
            self.name = name
            self.description = description
            self.inputSchema = inputSchema
            self.deferred = deferred
        }
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
    /// The JSON Schema the answer's text must validate against (`output_config.format`, or the older beta
    /// `output_format`), if any.
    public var outputSchema: JSONValue?
    /// `output_config.effort` (`low` … `max`, or a newer level), if given.
    public var effort: String?
    /// The betas and version the request's headers name.
    public var dialect: RequestDialect = .plain

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
            case "text": block["text"]?.stringValue.map(withoutScaffolding).flatMap { $0.isEmpty ? nil : $0 }
            case "tool_result" where toolResults: text(of: block["content"])
            default: nil
            }
        }.joined(separator: "\n")
    }

    /// `text` without the `<system-reminder>…</system-reminder>` passages agents (Claude Code) put around the
    /// person's words: what an answer is about is what the person wrote, not the scaffolding.
    static func withoutScaffolding(_ text: String) -> String {
        // A byte search: `String.contains` was a few percent of a synthesized answer's CPU on every prompt.
        guard Self.containsReminder(text) else { return text }
        var rest = Substring(text)
        var kept = ""
        while let open = rest.firstRange(of: reminderOpen) {
            kept += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].firstRange(of: reminderClose) else {
                rest = ""
                break
            }
            rest = rest[close.upperBound...]
        }
        kept += rest
        return String(kept.drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }
    static let reminderOpen = "<system-reminder>"
    static let reminderOpenBytes = Array(reminderOpen.utf8)

    static func containsReminder(_ text: String) -> Bool {
        text.utf8.withContiguousStorageIfAvailable { bytes in
            let needle = reminderOpenBytes
            guard bytes.count >= needle.count else { return false }
            var i = 0
            while i <= bytes.count - needle.count {
                if bytes[i] == 0x3C, bytes[i..<(i + needle.count)].elementsEqual(needle) { return true }
                i += 1
            }
            return false
        } ?? text.contains(reminderOpen)
    }
    static let reminderClose = "</system-reminder>"

    /// Whether a thinking block may open again after a tool result within one assistant turn: with the
    /// interleaved-thinking beta, and always in adaptive mode (where the API interleaves on its own).
    public var interleavesThinking: Bool {
        if case .adaptive = thinking { return true }
        return thinking != .disabled && dialect.enables(.interleavedThinking)
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
