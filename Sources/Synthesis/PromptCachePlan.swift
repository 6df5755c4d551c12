import Crypto
public import MessagesAPI

/// Where a request's prompt may be cached: the prefix at every block boundary (its canonical hash and its tokens),
/// and the boundaries `cache_control` marks as breakpoints.
///
/// The prompt is read in the API's order: tools, then system blocks, then message blocks. A prefix's key hashes
/// the model and the canonical JSON of each block up to it with `cache_control` left out, so moving a breakpoint
/// or changing its TTL does not change what an earlier prefix is. Token counts follow `TokenEstimator`, so the
/// prefix at the last boundary plus what comes after (thinking overhead) is `TokenEstimator.inputTokens`.
public struct PromptCachePlan: Sendable, Equatable {
    /// How long a cached prefix lives after it is written or read.
    public enum TTL: String, Sendable, Equatable {
        case fiveMinutes = "5m"
        case oneHour = "1h"

        /// Seconds.
        public var seconds: Double { self == .oneHour ? 3_600 : 300 }
    }

    /// The prompt up to and including one block.
    public struct Boundary: Sendable, Equatable {
        /// Hex SHA-256 of the model and the blocks so far.
        public var key: String
        /// Input tokens of the prefix.
        public var tokens: Int
    }

    /// A boundary `cache_control` marks.
    public struct Breakpoint: Sendable, Equatable {
        /// Index into `boundaries`.
        public var boundary: Int
        public var ttl: TTL
    }

    public var boundaries: [Boundary]
    public var breakpoints: [Breakpoint]
    /// The request's input tokens, as `count_tokens` reports them.
    public var totalTokens: Int
    /// Prefixes shorter than this are not cached (the model's documented minimum).
    public var minimumTokens: Int

    /// How many blocks before a breakpoint the API looks back for an earlier cached prefix.
    public static let lookback = 20

    /// The plan of `request`, or `nil` when nothing in it asks for caching (no `cache_control` anywhere): the
    /// common case costs one walk over the blocks' keys.
    /// - Parameters:
    ///   - request: The validated request.
    ///   - model: The dated model id; caches are per model.
    public init?(request: MessagesRequest, model: String) {
        let body = request.body
        let automatic = Self.ttl(of: body["cache_control"])
        let rawTools = body["tools"]?.arrayValue ?? []
        let rawSystem = body["system"]?.arrayValue ?? []
        guard
            automatic != nil || rawTools.contains(where: { $0["cache_control"] != nil })
                || rawSystem.contains(where: { $0["cache_control"] != nil })
                || request.messages.contains(where: { $0.blocks.contains { $0["cache_control"] != nil } })
        else { return nil }

        var hasher = SHA256()
        hasher.update(data: Array(model.utf8))
        var tokens = 3
        var boundaries: [Boundary] = []
        var breakpoints: [Breakpoint] = []
        func close(_ object: JSONObject, cost: Int) {
            var stripped = object
            let ttl = Self.ttl(of: stripped["cache_control"])
            stripped["cache_control"] = nil
            hasher.update(data: JSONWriter.canonicalBytes(.object(stripped)))
            tokens += cost
            boundaries.append(Boundary(key: Self.hex(hasher), tokens: tokens))
            if let ttl { breakpoints.append(Breakpoint(boundary: boundaries.count - 1, ttl: ttl)) }
        }

        if !request.tools.isEmpty { tokens += 280 }
        for (tool, raw) in zip(request.tools, rawTools) {
            var cost = 6 + TokenEstimator.count(tool.name) + TokenEstimator.count(tool.description ?? "")
            if let schema = tool.inputSchema { cost += TokenEstimator.count(JSONWriter.string(schema)) }
            close(raw.objectValue ?? JSONObject(), cost: cost)
        }
        if !request.system.isEmpty {
            tokens += 3
            if rawSystem.isEmpty {
                close(["type": "text", "text": .string(request.system)], cost: TokenEstimator.count(request.system))
            } else {
                for block in rawSystem {
                    let object = block.objectValue ?? JSONObject()
                    close(object, cost: TokenEstimator.count(object["text"]?.stringValue ?? ""))
                }
            }
        }
        for message in request.messages {
            tokens += 4
            hasher.update(data: Array("\u{0}\(message.role)\u{0}".utf8))
            for block in message.blocks { close(block, cost: TokenEstimator.tokens(inBlock: block)) }
        }
        if let automatic, let last = boundaries.indices.last, !breakpoints.contains(where: { $0.boundary == last }) {
            breakpoints.append(Breakpoint(boundary: last, ttl: automatic))
        }
        self.boundaries = boundaries
        self.breakpoints = breakpoints
        self.totalTokens = TokenEstimator.inputTokens(for: request)
        self.minimumTokens = Self.minimumTokens(forModel: model)
    }

    /// A `cache_control` value's TTL: `{"type": "ephemeral", "ttl"?: "5m" | "1h"}`; `nil` for anything else.
    static func ttl(of value: JSONValue?) -> TTL? {
        guard let value, value["type"] == "ephemeral" else { return nil }
        return value["ttl"]?.stringValue.flatMap(TTL.init(rawValue:)) ?? .fiveMinutes
    }

    static func hex(_ hasher: SHA256) -> String {
        Fingerprint(bytes: Array(hasher.finalize())).hex
    }

    /// The shortest prefix a model caches, as the prompt-caching docs list it (2026): 512 for Opus 5, Fable 5 and
    /// Mythos 5 lines; 2,048 for Opus 4.7 and the Haiku 3 models; 4,096 for Opus 4.6, Opus 4.5 and Haiku 4.5;
    /// 1,024 for the rest (Opus 4.8, Sonnet 5, Sonnet 4.x, Opus 4.1, Opus 4, Sonnet 3.7, and models not listed).
    public static func minimumTokens(forModel model: String) -> Int {
        let table: [(prefix: String, tokens: Int)] = [
            ("claude-opus-5", 512), ("claude-fable-5", 512), ("claude-mythos-5", 512),
            ("claude-opus-4-7", 2_048), ("claude-3-5-haiku", 2_048), ("claude-3-haiku", 2_048), ("claude-haiku-3", 2_048),
            ("claude-opus-4-6", 4_096), ("claude-opus-4-5", 4_096), ("claude-haiku-4-5", 4_096),
        ]
        return table.first { model.hasPrefix($0.prefix) }?.tokens ?? 1_024
    }
}
