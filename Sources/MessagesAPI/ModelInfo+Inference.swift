/// Values for a model known only by its id: a request naming a new `claude-…` model, a model a recorded answer
/// named, a models file entry that leaves fields out. `scripts/generate-model-catalog.py` applies the same rules
/// to SDK ids that `scripts/model-metadata.json` does not describe.
extension ModelInfo {
    /// The model lines the API names (the SDK's `ModelLine`).
    public static let lines = ["opus", "sonnet", "haiku", "fable", "mythos"]

    /// Release time for a model whose release is unknown: the epoch, as the API itself reports then.
    public static let unknownCreatedAt = "1970-01-01T00:00:00Z"

    /// Limits for an id of no known line: generous, so nothing the real API might accept is refused.
    public static let generousInputTokens = 1_000_000
    public static let generousOutputTokens = 128_000

    /// Whether `id` is shaped like one of Anthropic's model ids.
    public static func followsAnthropicNaming(_ id: String) -> Bool {
        guard id.hasPrefix("claude-"), id.utf8.count > "claude-".utf8.count, id.utf8.count <= 128 else { return false }
        return id.utf8.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "@")
                || byte == UInt8(ascii: "_")
        }
    }

    /// The line an id names (`claude-opus-5-5` is `opus`), if any.
    public static func line(of id: String) -> String? {
        let words = id.split(whereSeparator: { $0 == "-" || $0 == "." })
        return words.lazy.map(String.init).first { lines.contains($0) }
    }

    /// A display name from an id: `claude-opus-5-5` → `Claude Opus 5.5`, `claude-mythos-preview` → `Claude Mythos
    /// Preview`; a trailing date (`-20251101`) is dropped.
    public static func displayName(of id: String) -> String {
        var words = id.split(separator: "-").map(String.init)
        if words.count > 1, let last = words.last, last.utf8.count == 8, last.allSatisfy(\.isASCIIDigit) { words = Array(words.dropLast()) }
        var parts: [String] = []
        var previousWasNumber = false
        for word in words {
            let isNumber = word.allSatisfy(\.isASCIIDigit)
            if isNumber, previousWasNumber, let last = parts.popLast() {
                parts.append(last + "." + word)
            } else {
                parts.append(word.prefix(1).uppercased() + word.dropFirst())
            }
            previousWasNumber = isNumber
        }
        return parts.joined(separator: " ")
    }

    /// What the log and the journal say when `model` was inferred.
    public static func inferenceWarning(for model: ModelInfo) -> String {
        "model \(model.id) is not in Tapedeck's catalog: answered as a \(model.line ?? "Claude") model inferred from its id "
            + "(max_tokens up to \(model.maxOutputTokens)); describe it with --models FILE, or refuse it with --strict-models"
    }

    /// A model for `id` from its name alone: its line's newest model in `known` lends the limits and rules, or
    /// generous defaults when no known model shares its line.
    public static func inferred(id: String, knowing known: [ModelInfo], isInferred: Bool = true) -> ModelInfo {
        let line = line(of: id)
        let relative = line.flatMap { line in
            known.filter { $0.line == line && !$0.isInferred }.max { $0.createdAt < $1.createdAt }
        }
        return ModelInfo(
            id: id, displayName: displayName(of: id), createdAt: unknownCreatedAt,
            maxInputTokens: relative?.maxInputTokens ?? generousInputTokens,
            maxOutputTokens: relative?.maxOutputTokens ?? generousOutputTokens,
            supportsThinking: relative?.supportsThinking ?? true, supportsPrefill: relative?.supportsPrefill ?? true,
            requiresUserFirst: relative?.requiresUserFirst ?? false, line: line, isInferred: isInferred)
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
