import Crypto
public import MessagesAPI

#if canImport(FoundationEssentials)
import FoundationEssentials  // Data's base64 without the rest of Foundation
#else
import Foundation
#endif

/// Builds deterministic answers to Messages API requests: a function of the request's fingerprint only.
///
/// Each answer is assembled from one-token pieces, so thinking, text and tool input share one output budget:
/// `max_tokens` cuts where the budget runs out, a stop sequence cuts where it first appears, and usage adds up.
public struct Synthesizer: Sendable {
    /// User text that makes the real API return redacted thinking; honoured the same way here.
    public static let redactedThinkingTrigger =
        "ANTHROPIC_MAGIC_STRING_TRIGGER_REDACTED_THINKING_46C9A13E193C177646C7398A98432ECCCE4C1253D5E2D82641AC0E52CC2876CB"

    /// The words and templates answers are written from.
    public let vocabulary: Vocabulary

    public init(vocabulary: Vocabulary) { self.vocabulary = vocabulary }

    /// The complete Message for `request`.
    /// - Parameters:
    ///   - request: The validated request.
    ///   - model: The catalog entry; answers report its dated id.
    ///   - fingerprint: The request's fingerprint, which seeds everything.
    public func message(for request: MessagesRequest, model: ModelInfo, fingerprint: Fingerprint) -> Message {
        var random = SeededGenerator(seed: fingerprint.seed)
        let maxTokens = request.maxTokens ?? 1024
        var budget = maxTokens
        var content: [ContentBlock] = []
        var stopReason = "end_turn"
        var stopSequence: String?
        var thinkingTokens = 0
        let topic = request.lastUserTextWithToolResults
        // What the person typed is what the answer answers; right after a tool result there is only the result.
        let question = request.lastUserText
        let reading = QuestionReading(question: question.isEmpty ? topic : question, system: request.system, vocabulary: vocabulary)

        // Thinking comes first and spends from the same budget. Right after a tool result the turn goes on
        // without thinking again, unless thinking interleaves (its beta, or adaptive mode).
        let thinksNow = !request.endsWithToolResult || request.interleavesThinking
        switch request.thinking {
        case .disabled:
            break
        case .enabled, .adaptive:
            guard thinksNow else { break }
            let omitted =
                switch request.thinking {
                case .enabled(_, let omitted), .adaptive(let omitted): omitted
                case .disabled: false
                }
            if topic.contains(Self.redactedThinkingTrigger) {
                content.append(.redactedThinking(.init(data: signature(fingerprint, label: "redacted", length: 180))))
                thinkingTokens = 40
            } else {
                var composer = TextComposer(seed: random.next(), vocabulary: vocabulary)
                var pieces = composer.thinking(reading, sentences: random.int(in: Self.thinkingSentences(request.effort)))
                var limit = budget
                if case .enabled(let budgetTokens, _) = request.thinking { limit = min(limit, budgetTokens) }
                if case .adaptive = request.thinking { limit = max(1, budget / 2) }
                if pieces.count > limit { pieces = Array(pieces.prefix(limit)) }
                thinkingTokens = pieces.count
                content.append(
                    .thinking(
                        .init(
                            thinking: omitted ? "" : pieces.joined(),
                            signature: signature(fingerprint, label: "thinking", length: 120))))
            }
            budget -= thinkingTokens
        }

        // Whether this turn calls a tool: forced choices always do; `auto` sometimes does, but never right after
        // a tool result, so an agent loop driven by synthetic answers always ends.
        var tool: MessagesRequest.Tool?
        let callable = request.tools.filter { $0.inputSchema != nil && !$0.deferred }
        switch request.toolChoice {
        case .any: tool = callable.isEmpty ? nil : random.pick(callable)
        case .tool(let name): tool = request.tools.first { $0.name == name && $0.inputSchema != nil }
        case .auto:
            if !request.endsWithToolResult { tool = ToolPicker.tool(namedIn: request.lastUserText, among: callable) }
        case .none: break
        }

        // Text: a preface before a tool call under `auto`, the whole answer otherwise.
        var textPieces: [String] = []
        var composer = TextComposer(seed: random.next(), vocabulary: vocabulary)
        if let tool {
            if request.toolChoice == .auto { textPieces = composer.toolPreface(tool.name) }
        } else if let schema = request.outputSchema {
            // Structured output: the text is one JSON value that validates against the schema.
            var instance = SchemaInstance(schema: schema, seed: random.next(), hint: topic)
            textPieces = TextComposer.pieces(of: JSONWriter.string(instance.make()))
        } else {
            textPieces = composer.reply(reading)
            if let first = request.stopSequences.first {
                // The stop sequence shows up at a deterministic point in the middle of the answer.
                let at = random.int(in: max(1, textPieces.count / 3)...max(1, textPieces.count * 2 / 3))
                textPieces.insert(first, at: min(at, textPieces.count))
            }
        }

        var text = ""
        var textTokens = 0
        var cutByStop = false
        // Only sequences the whole reply contains can cut it: checking those alone keeps a request with
        // thousands of stop sequences as cheap as one with a few.
        let reachable = textPieces.prefix(max(0, budget)).joined()
        let stopSequences = request.stopSequences.filter { reachable.contains($0) }
        for piece in textPieces {
            if textTokens >= budget {
                stopReason = "max_tokens"
                break
            }
            text += piece
            textTokens += 1
            if let (sequence, range) = firstStop(in: text, sequences: stopSequences) {
                text = String(text[..<range.lowerBound])
                stopReason = "stop_sequence"
                stopSequence = sequence
                cutByStop = true
                break
            }
        }
        budget -= textTokens
        if !text.isEmpty { content.append(.text(.init(text: text))) }

        var toolTokens = 0
        if let tool, let schema = tool.inputSchema, stopReason == "end_turn", !cutByStop {
            var instance = SchemaInstance(schema: schema, seed: random.next(), hint: topic)
            let input = instance.make()
            toolTokens = 10 + TokenEstimator.count(JSONWriter.string(input))
            if toolTokens <= budget {
                content.append(
                    .toolUse(
                        .init(
                            id: Identifier.make(prefix: Identifier.toolUse, seed: fingerprint.bytes, label: tool.name),
                            name: tool.name, input: input, extra: ["caller": ["type": "direct"]])))
                stopReason = "tool_use"
            } else {
                toolTokens = budget
                stopReason = "max_tokens"
            }
        }
        if maxTokens == 0 { stopReason = "max_tokens" }

        let outputTokens = thinkingTokens + textTokens + toolTokens
        let usage = Usage(
            inputTokens: TokenEstimator.inputTokens(for: request), outputTokens: outputTokens,
            cacheCreationInputTokens: 0, cacheReadInputTokens: 0,
            cacheCreation: ["ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0],
            serviceTier: "standard", inferenceGeo: "not_available",
            outputTokensDetails: thinkingTokens > 0 ? ["thinking_tokens": .int(thinkingTokens)] : nil)

        return Message(
            id: Identifier.make(prefix: Identifier.message, seed: fingerprint.bytes), model: model.id,
            content: content, stopReason: stopReason, stopSequence: stopSequence, usage: usage)
    }

    /// How many sentences of thinking an `output_config.effort` level gets: more effort, longer thought.
    static func thinkingSentences(_ effort: String?) -> ClosedRange<Int> {
        switch effort {
        case "low": 1...2
        case "medium": 2...3
        case "xhigh": 4...7
        case "max": 6...9
        default: 2...5
        }
    }

    /// The earliest stop sequence in `text` (ties go to the sequence listed first).
    func firstStop(in text: String, sequences: [String]) -> (String, Range<String.Index>)? {
        var best: (String, Range<String.Index>)?
        for sequence in sequences {
            if let range = text.firstRange(of: sequence), best.map({ range.lowerBound < $0.1.lowerBound }) ?? true {
                best = (sequence, range)
            }
        }
        return best
    }

    /// An opaque base64 string that starts with `E`, like the API's signatures, derived from the fingerprint.
    func signature(_ fingerprint: Fingerprint, label: String, length: Int) -> String {
        Self.opaque(fingerprint, label: label, length: length)
    }

    /// `length` bytes from the fingerprint and `label` (a SHA-256 chain after a 0x12 byte), as base64: the API's
    /// signatures and `encrypted_*` fields look like this.
    static func opaque(_ fingerprint: Fingerprint, label: String, length: Int) -> String {
        var bytes: [UInt8] = [0x12]
        var block = fingerprint.bytes + Array(label.utf8)
        while bytes.count < length {
            block = Array(SHA256.hash(data: block))
            bytes += block
        }
        return Data(bytes.prefix(length)).base64EncodedString()
    }
}
