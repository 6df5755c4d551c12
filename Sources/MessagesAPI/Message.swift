/// A Message as the API returns it: the body of a non-streaming answer, and what a stream adds up to.
///
/// The typed fields are what Tapedeck reads and writes; everything else rides along untouched. A Message read from
/// JSON writes back the same bytes (`JSONWriter.bytes(Message(json: x).json) == JSONWriter.bytes(x)`): keys keep
/// their order, unknown keys (`container`, `diagnostics`, whatever the API adds next) stay where they were, and a
/// known key whose value has an unexpected type is kept as it came, in `extra`. Only duplicate keys collapse, to
/// the last value (the one every lookup sees). A field that is assigned is written; one that was absent stays
/// absent until then.
///
/// Recorded bytes never go through this type: a same-style replay serves them as they were recorded. It is for
/// the answers Tapedeck builds (synthesis, completed fixtures) and the streams it builds from a Message.
public struct Message: Sendable, Hashable {
    /// `msg_…`.
    public var id: String { didSet { noteSet("id") } }
    /// The model that answered, as a dated id.
    public var model: String { didSet { noteSet("model") } }
    /// Always `assistant` in API answers.
    public var role: String { didSet { noteSet("role") } }
    public var content: [ContentBlock] { didSet { noteSet("content") } }
    /// `end_turn`, `max_tokens`, `stop_sequence`, `tool_use`, `pause_turn`, `refusal`, …; `nil` writes `null`.
    public var stopReason: String? { didSet { noteSet("stop_reason") } }
    /// The stop sequence that ended the answer; `nil` writes `null`.
    public var stopSequence: String? { didSet { noteSet("stop_sequence") } }
    /// `{"type": "refusal", "category": …, "explanation": …}`; `nil` writes `null`.
    public var stopDetails: JSONObject? { didSet { noteSet("stop_details") } }
    public var usage: Usage { didSet { noteSet("usage") } }
    /// Keys the typed fields do not represent: unknown ones, and known ones whose value has another type. On
    /// writing, a key here wins over the typed field of the same name.
    public var extra: JSONObject
    /// The keys this Message carries, in writing order.
    var keys: WireKeys

    /// The order synthesized and completed Messages use, as recent API captures do.
    public static let standardKeys = [
        "model", "id", "type", "role", "content", "stop_reason", "stop_sequence", "stop_details", "usage",
    ]

    /// A Message with the standard keys (stop fields written as `null` when `nil`), then `extra`'s.
    public init(
        id: String, model: String, role: String = "assistant", content: [ContentBlock], stopReason: String?,
        stopSequence: String? = nil, stopDetails: JSONObject? = nil, usage: Usage, extra: JSONObject = JSONObject()
    ) {
        self.id = id
        self.model = model
        self.role = role
        self.content = content
        self.stopReason = stopReason
        self.stopSequence = stopSequence
        self.stopDetails = stopDetails
        self.usage = usage
        self.extra = extra
        self.keys = WireKeys(Self.standardKeys)
    }

    /// Reads a Message. Anything that is an object with `"type": "message"` is one; the rest of its shape is taken
    /// as it comes (see the type's notes).
    public init(json: JSONValue) throws(DecodingError) {
        guard case .object(let object) = json else { throw .notAnObject(json) }
        guard object["type"] == "message" else { throw .notAMessage(object["type"]) }
        self.init(id: "", model: "", content: [], stopReason: nil, usage: Usage(JSONObject()))
        keys = WireKeys([])
        for (key, value) in object.uniqueEntries { set(value, forKey: key) }
    }

    /// The Message as JSON, keys in order.
    public var json: JSONValue { .object(object()) }

    /// Sets a key from its wire value, as reading would: a known key with a value of its type sets the typed
    /// field, anything else goes to `extra`. A key the Message lacked is added at the end.
    public mutating func set(_ value: JSONValue, forKey key: String) {
        keys.add(key)
        switch (key, value) {
        case ("id", .string(let s)): id = s
        case ("model", .string(let s)): model = s
        case ("role", .string(let s)): role = s
        case ("type", "message"): extra[key] = nil
        case ("content", .array(let items)) where items.allSatisfy({ $0.objectValue != nil }):
            content = items.compactMap(\.objectValue).map { ContentBlock($0) }
        case ("stop_reason", .null): stopReason = nil
        case ("stop_reason", .string(let s)): stopReason = s
        case ("stop_sequence", .null): stopSequence = nil
        case ("stop_sequence", .string(let s)): stopSequence = s
        case ("stop_details", .null): stopDetails = nil
        case ("stop_details", .object(let o)): stopDetails = o
        case ("usage", .object(let o)): usage = Usage(o)
        default: extra[key] = value
        }
    }

    /// The wire object, with the values `replace` gives for some keys (it returns `nil` to keep a key's own).
    /// Only keys the Message carries are replaced; none are added.
    func object(replacing replace: (String) -> JSONValue? = { _ in nil }) -> JSONObject {
        keys.object(extra: extra) { key in
            if let value = replace(key) ?? extra[key] { return value }
            switch key {
            case "model": return .string(model)
            case "id": return .string(id)
            case "type": return "message"
            case "role": return .string(role)
            case "content": return .array(content.map(\.json))
            case "stop_reason": return stopReason.map(JSONValue.string) ?? .null
            case "stop_sequence": return stopSequence.map(JSONValue.string) ?? .null
            case "stop_details": return stopDetails.map(JSONValue.object) ?? .null
            case "usage": return usage.json
            default: return nil
            }
        }
    }

    private mutating func noteSet(_ key: String) {
        keys.add(key)
        if extra.contains(key) { extra[key] = nil }
    }

    /// Why a JSON value is not a Message.
    public struct DecodingError: Error, Sendable, Equatable, CustomStringConvertible {
        private enum Code: Sendable, Equatable {
            case notAnObject
            case notAMessage
        }

        private let code: Code
        /// What was wrong, for logs and error bodies.
        public let message: String

        static func notAnObject(_ value: JSONValue) -> Self {
            Self(code: .notAnObject, message: "a Message is a JSON object, not \(value.typeName)")
        }

        static func notAMessage(_ type: JSONValue?) -> Self {
            Self(code: .notAMessage, message: "a Message has \"type\": \"message\", not \(type?.description ?? "none")")
        }

        public var description: String { message }
    }
}

/// A block of a Message's `content`.
///
/// Block types Tapedeck does not know (the API's `web_search_tool_result` and friends, or anything new) are
/// `.other` and are written back exactly as read; they are never rejected or dropped. The typed cases follow the
/// same rules as `Message`: unknown keys (`caller`, `server_name`, `cache_control`, …) and known keys whose value
/// has another type ride along in `extra`, and key order is kept.
public enum ContentBlock: Sendable, Hashable {
    /// `{"type": "text", "text": …, "citations"?: […]}`.
    case text(Text)
    /// `{"type": "thinking", "thinking": …, "signature": …}`.
    case thinking(Thinking)
    /// `{"type": "redacted_thinking", "data": …}`.
    case redactedThinking(RedactedThinking)
    /// `{"type": "tool_use", "id": "toolu_…", "name": …, "input": {…}}`.
    case toolUse(ToolUse)
    /// `{"type": "server_tool_use", "id": "srvtoolu_…", "name": …, "input": {…}}`.
    case serverToolUse(ToolUse)
    /// `{"type": "mcp_tool_use", "id": …, "name": …, "server_name": …, "input": {…}}` (MCP connector).
    case mcpToolUse(ToolUse)
    /// Any other block, as it came.
    case other(JSONObject)

    /// Reads a block; an object of a type Tapedeck does not know is `.other`.
    public init(_ object: JSONObject) {
        switch object["type"]?.stringValue {
        case "text": self = .text(Text(reading: object))
        case "thinking": self = .thinking(Thinking(reading: object))
        case "redacted_thinking": self = .redactedThinking(RedactedThinking(reading: object))
        case "tool_use": self = .toolUse(ToolUse(reading: object))
        case "server_tool_use": self = .serverToolUse(ToolUse(reading: object))
        case "mcp_tool_use": self = .mcpToolUse(ToolUse(reading: object))
        default: self = .other(object)
        }
    }

    /// Reads a block; `nil` when `json` is not an object.
    public init?(json: JSONValue) {
        guard case .object(let object) = json else { return nil }
        self.init(object)
    }

    /// The block's `type` (`""` for an `.other` block without a string one).
    public var type: String {
        switch self {
        case .text: "text"
        case .thinking: "thinking"
        case .redactedThinking: "redacted_thinking"
        case .toolUse: "tool_use"
        case .serverToolUse: "server_tool_use"
        case .mcpToolUse: "mcp_tool_use"
        case .other(let object): object["type"]?.stringValue ?? ""
        }
    }

    /// The block as JSON, keys in order.
    public var json: JSONValue { .object(object) }

    var object: JSONObject {
        switch self {
        case .text(let block): block.object
        case .thinking(let block): block.object
        case .redactedThinking(let block): block.object
        case .toolUse(let block), .serverToolUse(let block), .mcpToolUse(let block): block.object(type: type)
        case .other(let object): object
        }
    }
}

extension ContentBlock {
    /// A text block.
    public struct Text: Sendable, Hashable {
        public var text: String { didSet { noteSet("text") } }
        /// The citations of a citing answer; `nil` when the block has none (the key is then left out).
        public var citations: [JSONValue]? { didSet { noteSet("citations") } }
        /// Keys the typed fields do not represent (see `ContentBlock`).
        public var extra: JSONObject
        var keys: WireKeys

        /// `{"type": "text", "text": …}`, plus `citations` when given, then `extra`'s keys.
        public init(text: String, citations: [JSONValue]? = nil, extra: JSONObject = JSONObject()) {
            self.text = text
            self.citations = citations
            self.extra = extra
            self.keys = WireKeys(citations == nil ? ["type", "text"] : ["type", "text", "citations"])
        }

        init(reading object: JSONObject) {
            self.init(text: "")
            keys = WireKeys([])
            for (key, value) in object.uniqueEntries { set(value, forKey: key) }
        }

        /// Sets a key from its wire value, as reading would (see `Message.set(_:forKey:)`).
        public mutating func set(_ value: JSONValue, forKey key: String) {
            keys.add(key)
            switch (key, value) {
            case ("type", "text"): extra[key] = nil
            case ("text", .string(let s)): text = s
            case ("citations", .array(let items)): citations = items
            default: extra[key] = value
            }
        }

        var object: JSONObject {
            keys.object(extra: extra) { key in
                if let value = extra[key] { return value }
                switch key {
                case "type": return "text"
                case "text": return .string(text)
                case "citations": return citations.map(JSONValue.array)
                default: return nil
                }
            }
        }

        private mutating func noteSet(_ key: String) {
            keys.add(key)
            if extra.contains(key) { extra[key] = nil }
        }
    }

    /// A thinking block: the reasoning text and the signature that lets a client send it back.
    public struct Thinking: Sendable, Hashable {
        /// Empty when the request asked for `display: "omitted"`.
        public var thinking: String { didSet { noteSet("thinking") } }
        /// Opaque base64.
        public var signature: String { didSet { noteSet("signature") } }
        /// Keys the typed fields do not represent (see `ContentBlock`).
        public var extra: JSONObject
        var keys: WireKeys

        /// `{"type": "thinking", "thinking": …, "signature": …}`, then `extra`'s keys.
        public init(thinking: String, signature: String, extra: JSONObject = JSONObject()) {
            self.thinking = thinking
            self.signature = signature
            self.extra = extra
            self.keys = WireKeys(["type", "thinking", "signature"])
        }

        init(reading object: JSONObject) {
            self.init(thinking: "", signature: "")
            keys = WireKeys([])
            for (key, value) in object.uniqueEntries { set(value, forKey: key) }
        }

        /// Sets a key from its wire value, as reading would (see `Message.set(_:forKey:)`).
        public mutating func set(_ value: JSONValue, forKey key: String) {
            keys.add(key)
            switch (key, value) {
            case ("type", "thinking"): extra[key] = nil
            case ("thinking", .string(let s)): thinking = s
            case ("signature", .string(let s)): signature = s
            default: extra[key] = value
            }
        }

        var object: JSONObject {
            keys.object(extra: extra) { key in
                if let value = extra[key] { return value }
                switch key {
                case "type": return "thinking"
                case "thinking": return .string(thinking)
                case "signature": return .string(signature)
                default: return nil
                }
            }
        }

        private mutating func noteSet(_ key: String) {
            keys.add(key)
            if extra.contains(key) { extra[key] = nil }
        }
    }

    /// Thinking the API withholds: opaque data a client sends back unchanged.
    public struct RedactedThinking: Sendable, Hashable {
        public var data: String { didSet { noteSet("data") } }
        /// Keys the typed fields do not represent (see `ContentBlock`).
        public var extra: JSONObject
        var keys: WireKeys

        /// `{"type": "redacted_thinking", "data": …}`, then `extra`'s keys.
        public init(data: String, extra: JSONObject = JSONObject()) {
            self.data = data
            self.extra = extra
            self.keys = WireKeys(["type", "data"])
        }

        init(reading object: JSONObject) {
            self.init(data: "")
            keys = WireKeys([])
            for (key, value) in object.uniqueEntries { set(value, forKey: key) }
        }

        /// Sets a key from its wire value, as reading would (see `Message.set(_:forKey:)`).
        public mutating func set(_ value: JSONValue, forKey key: String) {
            keys.add(key)
            switch (key, value) {
            case ("type", "redacted_thinking"): extra[key] = nil
            case ("data", .string(let s)): data = s
            default: extra[key] = value
            }
        }

        var object: JSONObject {
            keys.object(extra: extra) { key in
                if let value = extra[key] { return value }
                switch key {
                case "type": return "redacted_thinking"
                case "data": return .string(data)
                default: return nil
                }
            }
        }

        private mutating func noteSet(_ key: String) {
            keys.add(key)
            if extra.contains(key) { extra[key] = nil }
        }
    }

    /// A tool call: client (`tool_use`), server (`server_tool_use`) or MCP (`mcp_tool_use`); the case says which.
    public struct ToolUse: Sendable, Hashable {
        /// `toolu_…` (`srvtoolu_…` for server tools).
        public var id: String { didSet { noteSet("id") } }
        public var name: String { didSet { noteSet("name") } }
        /// The arguments, as the model wrote them (an object).
        public var input: JSONValue { didSet { noteSet("input") } }
        /// Keys the typed fields do not represent, such as `caller` or `server_name` (see `ContentBlock`).
        public var extra: JSONObject
        var keys: WireKeys

        /// `{"type": …, "id": …, "name": …, "input": …}`, then `extra`'s keys (`caller`, say).
        public init(id: String, name: String, input: JSONValue, extra: JSONObject = JSONObject()) {
            self.id = id
            self.name = name
            self.input = input
            self.extra = extra
            self.keys = WireKeys(["type", "id", "name", "input"])
        }

        init(reading object: JSONObject) {
            self.init(id: "", name: "", input: .object(JSONObject()))
            keys = WireKeys([])
            for (key, value) in object.uniqueEntries {
                // The type chose the case, which writes it back.
                if key == "type" { keys.add(key) } else { set(value, forKey: key) }
            }
        }

        /// Sets a key from its wire value, as reading would (see `Message.set(_:forKey:)`). `type` always goes to
        /// `extra`: which tool call this is, is the `ContentBlock` case's to say.
        public mutating func set(_ value: JSONValue, forKey key: String) {
            keys.add(key)
            switch (key, value) {
            case ("id", .string(let s)): id = s
            case ("name", .string(let s)): name = s
            case ("input", _): input = value
            default: extra[key] = value
            }
        }

        func object(type: String) -> JSONObject {
            keys.object(extra: extra) { key in
                if let value = extra[key] { return value }
                switch key {
                case "type": return .string(type)
                case "id": return .string(id)
                case "name": return .string(name)
                case "input": return input
                default: return nil
                }
            }
        }

        private mutating func noteSet(_ key: String) {
            keys.add(key)
            if extra.contains(key) { extra[key] = nil }
        }
    }
}

/// A Message's `usage`: token counts, plus whatever else the API reports there.
///
/// Follows `Message`'s rules: key order is kept, unknown keys (`speed`, …) and known keys whose value has another
/// type (a `null` count in an old capture) ride along in `extra`. The optional fields are left out when `nil`.
public struct Usage: Sendable, Hashable {
    public var inputTokens: Int { didSet { noteSet("input_tokens") } }
    public var outputTokens: Int { didSet { noteSet("output_tokens") } }
    public var cacheCreationInputTokens: Int? { didSet { noteSet("cache_creation_input_tokens") } }
    public var cacheReadInputTokens: Int? { didSet { noteSet("cache_read_input_tokens") } }
    /// `{"ephemeral_5m_input_tokens": …, "ephemeral_1h_input_tokens": …}`.
    public var cacheCreation: JSONObject? { didSet { noteSet("cache_creation") } }
    /// `standard`, `priority` or `batch`.
    public var serviceTier: String? { didSet { noteSet("service_tier") } }
    /// `not_available`, `global`, …
    public var inferenceGeo: String? { didSet { noteSet("inference_geo") } }
    /// `{"web_search_requests": …, "web_fetch_requests": …}`.
    public var serverToolUse: JSONObject? { didSet { noteSet("server_tool_use") } }
    /// `{"thinking_tokens": …}`.
    public var outputTokensDetails: JSONObject? { didSet { noteSet("output_tokens_details") } }
    /// Keys the typed fields do not represent (see the type's notes). On writing, a key here wins.
    public var extra: JSONObject
    var keys: WireKeys

    /// The order a Usage made here is written in: the API's own, as 2026 captures show it.
    static let standardKeys = [
        "input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "cache_creation", "output_tokens",
        "service_tier", "inference_geo", "server_tool_use", "output_tokens_details",
    ]

    /// A Usage with the given fields in the API's order (`nil` ones left out), then `extra`'s keys.
    public init(
        inputTokens: Int, outputTokens: Int, cacheCreationInputTokens: Int? = nil, cacheReadInputTokens: Int? = nil,
        cacheCreation: JSONObject? = nil, serviceTier: String? = nil, inferenceGeo: String? = nil,
        serverToolUse: JSONObject? = nil, outputTokensDetails: JSONObject? = nil, extra: JSONObject = JSONObject()
    ) {
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.cacheCreationInputTokens = cacheCreationInputTokens
        self.cacheReadInputTokens = cacheReadInputTokens
        self.cacheCreation = cacheCreation
        self.serviceTier = serviceTier
        self.inferenceGeo = inferenceGeo
        self.serverToolUse = serverToolUse
        self.outputTokensDetails = outputTokensDetails
        self.extra = extra
        self.keys = WireKeys([])
        keys = WireKeys(Self.standardKeys.filter { $0 == "input_tokens" || $0 == "output_tokens" || has($0) })
    }

    /// Reads a usage object; any object is one.
    public init(_ object: JSONObject) {
        self.init(inputTokens: 0, outputTokens: 0)
        keys = WireKeys([])
        for (key, value) in object.uniqueEntries { set(value, forKey: key) }
    }

    /// Reads a usage object; `nil` when `json` is not an object.
    public init?(json: JSONValue) {
        guard case .object(let object) = json else { return nil }
        self.init(object)
    }

    /// The usage as JSON, keys in order.
    public var json: JSONValue { .object(object) }

    /// Sets a key from its wire value, as reading would (see `Message.set(_:forKey:)`). A count is typed only when
    /// writing it back gives the same literal (`12`, not `12.0`).
    public mutating func set(_ value: JSONValue, forKey key: String) {
        keys.add(key)
        switch (key, value, Self.count(value)) {
        case ("input_tokens", _, let n?): inputTokens = n
        case ("output_tokens", _, let n?): outputTokens = n
        case ("cache_creation_input_tokens", _, let n?): cacheCreationInputTokens = n
        case ("cache_read_input_tokens", _, let n?): cacheReadInputTokens = n
        case ("cache_creation", .object(let o), _): cacheCreation = o
        case ("service_tier", .string(let s), _): serviceTier = s
        case ("inference_geo", .string(let s), _): inferenceGeo = s
        case ("server_tool_use", .object(let o), _): serverToolUse = o
        case ("output_tokens_details", .object(let o), _): outputTokensDetails = o
        default: extra[key] = value
        }
    }

    /// Whether the usage carries `key` (with a value, typed or in `extra`).
    func has(_ key: String) -> Bool {
        switch key {
        case "cache_creation_input_tokens": cacheCreationInputTokens != nil || extra.contains(key)
        case "cache_read_input_tokens": cacheReadInputTokens != nil || extra.contains(key)
        case "cache_creation": cacheCreation != nil || extra.contains(key)
        case "service_tier": serviceTier != nil || extra.contains(key)
        case "inference_geo": inferenceGeo != nil || extra.contains(key)
        case "server_tool_use": serverToolUse != nil || extra.contains(key)
        case "output_tokens_details": outputTokensDetails != nil || extra.contains(key)
        default: keys.contains(key) || extra.contains(key)
        }
    }

    var object: JSONObject {
        keys.object(extra: extra) { key in
            if let value = extra[key] { return value }
            switch key {
            case "input_tokens": return .int(inputTokens)
            case "output_tokens": return .int(outputTokens)
            case "cache_creation_input_tokens": return cacheCreationInputTokens.map(JSONValue.int)
            case "cache_read_input_tokens": return cacheReadInputTokens.map(JSONValue.int)
            case "cache_creation": return cacheCreation.map(JSONValue.object)
            case "service_tier": return serviceTier.map(JSONValue.string)
            case "inference_geo": return inferenceGeo.map(JSONValue.string)
            case "server_tool_use": return serverToolUse.map(JSONValue.object)
            case "output_tokens_details": return outputTokensDetails.map(JSONValue.object)
            default: return nil
            }
        }
    }

    /// A count whose literal writes back unchanged.
    private static func count(_ value: JSONValue) -> Int? {
        guard case .number(let number) = value, let n = Int(number.literal), JSONNumber(n).literal == number.literal
        else { return nil }
        return n
    }

    private mutating func noteSet(_ key: String) {
        keys.add(key)
        if extra.contains(key) { extra[key] = nil }
    }
}

/// The keys a typed wire object carries, in order, so it writes back the order it was read in.
struct WireKeys: Sendable, Hashable {
    private(set) var order: [String]

    init(_ order: [String]) { self.order = order }

    func contains(_ key: String) -> Bool { order.contains(key) }

    /// Adds `key` at the end, unless it is already there.
    mutating func add(_ key: String) {
        if !order.contains(key) { order.append(key) }
    }

    /// Each key in order with its value (keys whose `value` is `nil` are left out), then `extra`'s other keys.
    func object(extra: JSONObject, value: (String) -> JSONValue?) -> JSONObject {
        var out = JSONObject()
        for key in order {
            if let v = value(key) { out[key] = v }
        }
        for (key, v) in extra where !out.contains(key) { out[key] = v }
        return out
    }
}

extension JSONObject {
    /// Each key once, at its first position, with the value lookups see (the last).
    var uniqueEntries: [(key: String, value: JSONValue)] {
        var seen = Set<String>()
        return entries.compactMap { entry in
            guard seen.insert(entry.key).inserted else { return nil }
            return (entry.key, self[entry.key] ?? entry.value)
        }
    }
}
