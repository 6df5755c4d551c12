import MessagesAPI

extension Faults {
    /// A stop reason forced on a made answer (`tapedeck-fault: refusal;category=cyber`, `pause_turn`,
    /// `model_context_window_exceeded`): the answer keeps its thinking and text, drops a tool call it would have
    /// made, and ends the way the API's would.
    public enum Stop: Sendable, Equatable {
        /// `stop_reason: refusal`, with `stop_details` `{"type": "refusal", "category", "explanation"}`.
        case refusal(category: String?, explanation: String?)
        /// `stop_reason: pause_turn`: a long server-tool turn paused; the client sends the answer back to go on.
        case pauseTurn
        /// `stop_reason: model_context_window_exceeded`: the answer filled the model's context window.
        case contextWindowExceeded

        static let kinds = ["refusal", "pause_turn", "model_context_window_exceeded"]
        /// The categories SDK 2.10's `RefusalStopDetails` lists.
        static let categories = ["cyber", "bio", "frontier_llm", "reasoning_extraction", "general_harms"]

        init(kind: String, values: inout Parameters) throws(SyntaxError) {
            switch kind {
            case "refusal":
                let category = values.take("category")
                if let category, !Self.categories.contains(category) {
                    throw Faults.problem("refusal category must be one of \(Self.categories.joined(separator: ", ")), not '\(category)'")
                }
                self = .refusal(category: category, explanation: values.take("explanation")?.removingPercentEncoding)
            case "pause_turn": self = .pauseTurn
            default: self = .contextWindowExceeded
            }
        }

        var stopReason: String {
            switch self {
            case .refusal: "refusal"
            case .pauseTurn: "pause_turn"
            case .contextWindowExceeded: "model_context_window_exceeded"
            }
        }

        /// `message` ending this way.
        func apply(to message: inout Message) {
            let hadToolCall = message.content.contains { if case .toolUse = $0 { true } else { false } }
            if hadToolCall {
                message.content.removeAll { if case .toolUse = $0 { true } else { false } }
            }
            message.stopReason = stopReason
            message.stopSequence = nil
            if case .refusal(let category, let explanation) = self {
                message.stopDetails = [
                    "type": "refusal", "category": category.map(JSONValue.string) ?? .null,
                    "explanation": explanation.map(JSONValue.string) ?? .null,
                ]
            } else {
                message.stopDetails = nil
            }
        }
    }
}
