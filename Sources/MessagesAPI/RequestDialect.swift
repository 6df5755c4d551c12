/// What a request's headers say about the API surface it speaks: the betas it turns on (`anthropic-beta`) and
/// its `anthropic-version`.
///
/// Fields and values a beta introduces are accepted when that beta is on. A request that names a beta or a
/// version this build has never heard of may be using features newer than this build; nothing such a request
/// sends is refused merely for being unknown (`isNewerThanKnown`), since the real API may well accept it.
public struct RequestDialect: Sendable, Hashable {
    /// The betas named, lowercased, in no order.
    public let betas: Set<String>
    public let version: String?
    /// Whether a beta or the version is newer than what this build knows.
    public let isNewerThanKnown: Bool

    public init(betas: some Sequence<String>, version: String? = nil) {
        let betas = Set(betas.map { Self.trim($0).lowercased() }.filter { !$0.isEmpty })
        self.betas = betas
        self.version = version
        self.isNewerThanKnown =
            !betas.isSubset(of: Self.knownBetas) || version.map { !Self.knownVersions.contains(Self.trim($0)) } ?? false
    }

    /// From the values of the `anthropic-beta` header (each may list several, comma-separated).
    public init(anthropicBeta values: some Sequence<String>, version: String?) {
        self.init(betas: values.flatMap { $0.split(separator: ",").map(String.init) }, version: version)
    }

    /// A request with no beta and the SDKs' long-standing version.
    public static let plain = RequestDialect(betas: [])
    /// Accepts everything merely new: for bodies the real API has already judged (recordings).
    public static let lenient = RequestDialect(betas: ["tapedeck-lenient"])

    /// Whether `feature`'s beta is on (or the request may be speaking a newer API that has it).
    public func enables(_ feature: BetaFeature) -> Bool {
        isNewerThanKnown || betas.contains { $0.hasPrefix(feature.rawValue) }
    }

    static func trim(_ text: String) -> String {
        // Nearly every value has no space at either end: found from its first and last bytes, without walking
        // characters (this ran twice on every request). A byte past ASCII may begin or end a Unicode space.
        if let first = text.utf8.first, let last = text.utf8.last, !isSpaceOrNonASCII(first), !isSpaceOrNonASCII(last) {
            return text
        }
        return String(text.drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }

    private static func isSpaceOrNonASCII(_ byte: UInt8) -> Bool {
        byte >= 0x80 || byte == 0x20 || (0x09...0x0D).contains(byte)
    }

    /// Every `anthropic-version` this build knows, oldest first. Source: the SDKs' `ANTHROPIC_API_VERSION`
    /// (0.x: 2023-06-01; anthropic 2.10.0 `_constants.py`: 2026-10-21) and the API's versioning page (2023-01-01).
    static let knownVersions: Set<String> = ["2023-01-01", "2023-06-01", "2026-10-21"]

    /// Every beta this build knows. Source: anthropic 2.10.0 `types/anthropic_beta_param.py` (`AnthropicBetaParam`).
    /// A beta outside this list (Claude Code's `claude-code-20250219`, next month's betas) makes the request
    /// `isNewerThanKnown`.
    static let knownBetas: Set<String> = [
        "message-batches-2024-09-24", "prompt-caching-2024-07-31", "computer-use-2024-10-22", "computer-use-2025-01-24",
        "pdfs-2024-09-25", "token-counting-2024-11-01", "token-efficient-tools-2025-02-19", "output-128k-2025-02-19",
        "files-api-2025-04-14", "mcp-client-2025-04-04", "mcp-client-2025-11-20", "dev-full-thinking-2025-05-14",
        "interleaved-thinking-2025-05-14", "code-execution-2025-05-22", "extended-cache-ttl-2025-04-11",
        "context-1m-2025-08-07", "context-management-2025-06-27", "model-context-window-exceeded-2025-08-26",
        "skills-2025-10-02", "fast-mode-2026-02-01", "output-300k-2026-03-24", "user-profiles-2026-03-24",
        "user-profiles-2026-08-18", "user-profiles-2026-09-04", "advisor-tool-2026-03-01", "managed-agents-2026-04-01",
        "dreaming-2026-04-21", "thinking-token-count-2026-05-13", "server-side-fallback-2026-06-01",
        "server-side-fallback-2026-07-01", "fallback-credit-2026-06-01", "fallback-credit-2026-07-01",
        "agent-memory-2026-07-22", "mid-conversation-tool-changes-2026-07-01", "compact-2026-01-12",
        "computer-use-2025-11-24", "mcp-tunnels-2026-06-22", "structured-outputs-2025-11-13", "task-budgets-2026-03-13",
        "thinking-display-updates-2026-08-18", "mid-conversation-output-config-2026-07-01",
        "thinking-binding-controls-2026-08-01", "mid-conversation-system-clear-at-2026-08-21", "compact-2026-09-04",
        "inline-tools-2026-09-15", "mcp-client-2026-09-15", "ce-plugins-2026-09-01", "spend-limit-reads-2026-09-26",
        "telemetry-destinations-2026-08-11", "webhooks-2026-10-07", "admin-user-sign-out-2026-10-08",
        "message-threads-2026-08-12", "analytics-usage-cost-2026-08-24", "experimental-claude-tag-2026-10-21",
        "cache-diagnosis-2026-04-07", "ce-user-management-2026-07-13", "user-profiles-billing-2026-10-01",
    ]
}

/// A feature that exists only behind a beta, named by the prefix every version of its beta shares
/// (`mcp-client-2025-04-04` and `mcp-client-2025-11-20` both turn on `mcp_servers`).
public enum BetaFeature: String, Sendable, CaseIterable {
    case contextManagement = "context-management-"
    case mcpServers = "mcp-client-"
    case threads = "message-threads-"
    case compaction = "compact-"
    case fallbacks = "server-side-fallback-"
    case fallbackCredit = "fallback-credit-"
    case billingPolicy = "user-profiles-billing-"
    case structuredOutputsBeta = "structured-outputs-"
    case thinkingDisplayUpdates = "thinking-display-updates-"
    case interleavedThinking = "interleaved-thinking-"
}
