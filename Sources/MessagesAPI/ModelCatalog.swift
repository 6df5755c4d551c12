/// One model the server knows: its id, aliases and limits.
public struct ModelInfo: Sendable, Hashable {
    /// Where a model stands, as the API's `lifecycle` says: taken from data (the SDK's deprecation list, a
    /// models file, the upstream), never from today's date.
    public enum Lifecycle: String, Sendable, Hashable, CaseIterable {
        case active, deprecated, retired
    }

    public let id: String
    public let aliases: [String]
    public let displayName: String
    /// RFC 3339 creation time: part of the catalog's data, not the clock (the epoch when unknown, as the API does).
    public let createdAt: String
    public let maxInputTokens: Int
    public let maxOutputTokens: Int
    public let supportsThinking: Bool
    /// Newer models reject a conversation that ends with an assistant turn.
    public let supportsPrefill: Bool
    /// Older models require the first message to be a user turn.
    public let requiresUserFirst: Bool
    public let line: String?
    public let lifecycle: Lifecycle
    /// RFC 3339 times, when known.
    public let deprecatedAt: String?
    public let retiresAt: String?
    /// Named by a request but in no catalog: its values were inferred from its id (`ModelInfo.inferred`), and
    /// answers for it carry a warning.
    public let isInferred: Bool
    /// A model object given whole (a models file, the upstream's answer): served as given, over the fields above.
    public let given: JSONObject?

    public init(
        id: String, aliases: [String] = [], displayName: String, createdAt: String, maxInputTokens: Int = 200_000,
        maxOutputTokens: Int, supportsThinking: Bool = true, supportsPrefill: Bool = true,
        requiresUserFirst: Bool = false, line: String? = nil, lifecycle: Lifecycle = .active, deprecatedAt: String? = nil,
        retiresAt: String? = nil, isInferred: Bool = false, given: JSONObject? = nil
    ) {
        self.id = id
        self.aliases = aliases
        self.displayName = displayName
        self.createdAt = createdAt
        self.maxInputTokens = maxInputTokens
        self.maxOutputTokens = maxOutputTokens
        self.supportsThinking = supportsThinking
        self.supportsPrefill = supportsPrefill
        self.requiresUserFirst = requiresUserFirst
        self.line = line
        self.lifecycle = lifecycle
        self.deprecatedAt = deprecatedAt
        self.retiresAt = retiresAt
        self.isInferred = isInferred
        self.given = given
    }

    /// The model object of `GET /v1/models`, in the shape SDK 2.10 knows (older SDKs ignore the extra keys).
    public var json: JSONValue {
        let thinking: JSONValue = [
            "supported": .bool(supportsThinking),
            "types": [
                "adaptive": ["supported": .bool(supportsThinking)],
                "between_tools": ["supported": false],
                "disabled": ["supported": true],
                "enabled": ["supported": .bool(supportsThinking)],
            ],
        ]
        var object: JSONObject = [
            "type": "model",
            "id": .string(id),
            "display_name": .string(displayName),
            "created_at": .string(createdAt),
            "max_input_tokens": .int(maxInputTokens),
            "max_tokens": .int(maxOutputTokens),
            "capabilities": [
                "batch": ["supported": true],
                "citations": ["supported": true],
                "code_execution": ["supported": false],
                "context_management": ["supported": false],
                "effort": ["supported": .bool(supportsThinking)],
                "image_input": ["supported": true],
                "pdf_input": ["supported": true],
                "server_tools": ["supported": false],
                "structured_outputs": ["supported": true],
                "thinking": thinking,
            ],
            "lifecycle": .string(lifecycle.rawValue),
            "line": line.map { .string($0) } ?? .null,
            "deprecated_at": deprecatedAt.map { .string($0) } ?? .null,
            "retires_at": retiresAt.map { .string($0) } ?? .null,
        ]
        for (key, value) in given ?? JSONObject() where !Self.tapedeckKeys.contains(key) { object[key] = value }
        return .object(object)
    }

    /// Keys a models file may add that are Tapedeck's, not the API's: never served.
    public static let tapedeckKeys: Set<String> = ["aliases", "supports_prefill", "requires_user_first"]
}

/// The models `GET /v1/models` lists and `model` may name, newest first.
public struct ModelCatalog: Sendable {
    public let models: [ModelInfo]
    /// Whether an unknown id that follows Anthropic's naming (`claude-…`) is served as an inferred model; the
    /// API's 404 otherwise (`--strict-models`).
    public let infersClaudeModels: Bool
    private let byName: [String: ModelInfo]

    public init(models: [ModelInfo], infersClaudeModels: Bool = false) {
        self.models = models
        self.infersClaudeModels = infersClaudeModels
        var byName: [String: ModelInfo] = [:]
        // Earlier entries win, so an added model's id beats an older entry's alias of the same name.
        for model in models.reversed() {
            for alias in model.aliases { byName[alias] = model }
            byName[model.id] = model
        }
        self.byName = byName
    }

    /// The model a request names, by id or alias; an inferred one for an unknown `claude-…` id unless strict.
    public func model(named name: String) -> ModelInfo? {
        if let known = byName[name] { return known }
        guard infersClaudeModels, ModelInfo.followsAnthropicNaming(name) else { return nil }
        return ModelInfo.inferred(id: name, knowing: models)
    }

    /// The model the catalog itself holds under `name` (no inference).
    public func known(named name: String) -> ModelInfo? { byName[name] }

    /// This catalog with `added` models: one with a known id replaces that entry where it stands, a new one goes
    /// in front (the list is newest first).
    public func adding(_ added: [ModelInfo]) -> ModelCatalog {
        var replacing: [String: ModelInfo] = [:]
        for model in added where replacing[model.id] == nil { replacing[model.id] = model }
        let present = Set(models.map(\.id))
        var seen = Set<String>()
        let fresh = added.filter { !present.contains($0.id) && seen.insert($0.id).inserted }
        return ModelCatalog(models: fresh + models.map { replacing[$0.id] ?? $0 }, infersClaudeModels: infersClaudeModels)
    }

    /// The same models, with or without inference for unknown `claude-…` ids.
    public func inferring(_ infers: Bool) -> ModelCatalog { ModelCatalog(models: models, infersClaudeModels: infers) }
}
