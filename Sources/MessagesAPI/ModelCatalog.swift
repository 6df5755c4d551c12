/// One model the server knows: its id, aliases and limits.
public struct ModelInfo: Sendable, Hashable {
    public let id: String
    public let aliases: [String]
    public let displayName: String
    /// RFC 3339 creation time: part of the catalog's data, not the clock.
    public let createdAt: String
    public let maxInputTokens: Int
    public let maxOutputTokens: Int
    public let supportsThinking: Bool
    /// Newer models reject a conversation that ends with an assistant turn.
    public let supportsPrefill: Bool
    /// Older models require the first message to be a user turn.
    public let requiresUserFirst: Bool
    public let line: String?

    public init(
        id: String, aliases: [String] = [], displayName: String, createdAt: String, maxInputTokens: Int = 200_000,
        maxOutputTokens: Int, supportsThinking: Bool = true, supportsPrefill: Bool = true,
        requiresUserFirst: Bool = false, line: String? = nil
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
        return [
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
            "lifecycle": "active",
            "line": line.map { .string($0) } ?? .null,
            "deprecated_at": .null,
            "retires_at": .null,
        ]
    }
}

/// The models `GET /v1/models` lists and `model` may name, newest first.
public struct ModelCatalog: Sendable {
    public let models: [ModelInfo]
    private let byName: [String: ModelInfo]

    public init(models: [ModelInfo]) {
        self.models = models
        var byName: [String: ModelInfo] = [:]
        for model in models {
            byName[model.id] = model
            for alias in model.aliases { byName[alias] = model }
        }
        self.byName = byName
    }

    /// The model a request names, by id or alias.
    public func model(named name: String) -> ModelInfo? { byName[name] }

    /// The catalog Tapedeck ships: Anthropic's current models plus models that Anthropic-compatible gateways serve.
    public static let standard = ModelCatalog(models: [
        ModelInfo(
            id: "claude-opus-4-7", displayName: "Claude Opus 4.7", createdAt: "2026-09-24T00:00:00Z",
            maxInputTokens: 1_000_000, maxOutputTokens: 128_000, supportsPrefill: false, line: "opus"),
        ModelInfo(
            id: "kimi-k2.6", displayName: "Kimi K2.6", createdAt: "2026-07-15T00:00:00Z",
            maxInputTokens: 262_144, maxOutputTokens: 32_768),
        ModelInfo(
            id: "deepseek-v4-pro", displayName: "DeepSeek V4 Pro", createdAt: "2026-06-01T00:00:00Z",
            maxInputTokens: 131_072, maxOutputTokens: 32_768),
        ModelInfo(
            id: "claude-opus-4-6", displayName: "Claude Opus 4.6", createdAt: "2026-02-05T00:00:00Z",
            maxInputTokens: 1_000_000, maxOutputTokens: 128_000, supportsPrefill: false, line: "opus"),
        ModelInfo(
            id: "claude-opus-4-5-20251101", aliases: ["claude-opus-4-5"], displayName: "Claude Opus 4.5",
            createdAt: "2025-11-01T00:00:00Z", maxOutputTokens: 64_000, line: "opus"),
        ModelInfo(
            id: "claude-haiku-4-5-20251001", aliases: ["claude-haiku-4-5"], displayName: "Claude Haiku 4.5",
            createdAt: "2025-10-01T00:00:00Z", maxOutputTokens: 64_000, line: "haiku"),
        ModelInfo(
            id: "claude-sonnet-4-5-20250929", aliases: ["claude-sonnet-4-5"], displayName: "Claude Sonnet 4.5",
            createdAt: "2025-09-29T00:00:00Z", maxOutputTokens: 64_000, line: "sonnet"),
        ModelInfo(
            id: "claude-opus-4-1-20250805", aliases: ["claude-opus-4-1"], displayName: "Claude Opus 4.1",
            createdAt: "2025-08-05T00:00:00Z", maxOutputTokens: 32_000, line: "opus"),
        ModelInfo(
            id: "claude-sonnet-4-20250514", aliases: ["claude-sonnet-4-0"], displayName: "Claude Sonnet 4",
            createdAt: "2025-05-14T00:00:00Z", maxOutputTokens: 64_000, line: "sonnet"),
        ModelInfo(
            id: "claude-3-7-sonnet-20250219", aliases: ["claude-3-7-sonnet-latest"], displayName: "Claude Sonnet 3.7",
            createdAt: "2025-02-19T00:00:00Z", maxOutputTokens: 64_000, requiresUserFirst: true, line: "sonnet"),
        ModelInfo(
            id: "claude-3-5-haiku-20241022", aliases: ["claude-3-5-haiku-latest"], displayName: "Claude Haiku 3.5",
            createdAt: "2024-10-22T00:00:00Z", maxOutputTokens: 8_192, supportsThinking: false,
            requiresUserFirst: true, line: "haiku"),
    ])
}
