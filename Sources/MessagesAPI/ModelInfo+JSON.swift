/// Model objects read back: a models file (`--models`), or the upstream's `/v1/models` answers in record mode.
extension ModelInfo {
    /// Why a model object cannot be read.
    public struct ReadError: Error, CustomStringConvertible, Sendable, Equatable {
        public let description: String
    }

    /// Reads a model object (the API's shape; fields left out are inferred from the id like an unknown model's,
    /// relying on `known` for its line's limits). Tapedeck's own keys `aliases`, `supports_prefill` and
    /// `requires_user_first` are read too, and never served.
    public init(json: JSONValue, knowing known: [ModelInfo]) throws(ReadError) {
        guard let object = json.objectValue else { throw ReadError(description: "expected a model object, got \(json.typeName)") }
        guard let id = object["id"]?.stringValue, !id.isEmpty else { throw ReadError(description: "a model needs an \"id\" string") }
        func text(_ key: String) throws(ReadError) -> String? {
            guard let value = object[key], !value.isNull else { return nil }
            guard let text = value.stringValue else { throw ReadError(description: "\(id): \"\(key)\" must be a string") }
            return text
        }
        func count(_ key: String) throws(ReadError) -> Int? {
            guard let value = object[key], !value.isNull else { return nil }
            guard let n = value.intValue, n > 0 else { throw ReadError(description: "\(id): \"\(key)\" must be a positive integer") }
            return n
        }
        func flag(_ value: JSONValue?, _ key: String) throws(ReadError) -> Bool? {
            guard let value, !value.isNull else { return nil }
            guard let flag = value.boolValue else { throw ReadError(description: "\(id): \"\(key)\" must be true or false") }
            return flag
        }
        var aliases: [String] = []
        if let list = object["aliases"], !list.isNull {
            guard let items = list.arrayValue?.compactMap(\.stringValue), items.count == list.arrayValue?.count else {
                throw ReadError(description: "\(id): \"aliases\" must be a list of strings")
            }
            aliases = items
        }
        var lifecycle = Lifecycle.active
        if let stage = try text("lifecycle") {
            guard let known = Lifecycle(rawValue: stage) else {
                throw ReadError(description: "\(id): \"lifecycle\" must be active, deprecated or retired")
            }
            lifecycle = known
        }
        let base = ModelInfo.inferred(id: id, knowing: known, isInferred: false)
        let line = try text("line") ?? base.line
        let thinking = try flag(object["capabilities"]?["thinking"]?["supported"], "capabilities.thinking.supported")
        self.init(
            id: id, aliases: aliases, displayName: try text("display_name") ?? base.displayName,
            createdAt: try text("created_at") ?? base.createdAt, maxInputTokens: try count("max_input_tokens") ?? base.maxInputTokens,
            maxOutputTokens: try count("max_tokens") ?? base.maxOutputTokens, supportsThinking: thinking ?? base.supportsThinking,
            supportsPrefill: try flag(object["supports_prefill"], "supports_prefill") ?? base.supportsPrefill,
            requiresUserFirst: try flag(object["requires_user_first"], "requires_user_first") ?? base.requiresUserFirst,
            line: line, lifecycle: lifecycle, deprecatedAt: try text("deprecated_at"), retiresAt: try text("retires_at"),
            given: object)
    }

    /// The model objects of a models file or a list answer: a list of them, or `{"data": [...]}`; a single
    /// object (a `/v1/models/{id}` answer) is one model.
    public static func models(in json: JSONValue, knowing known: [ModelInfo]) throws(ReadError) -> [ModelInfo] {
        let items: [JSONValue]
        if let list = json.arrayValue {
            items = list
        } else if let data = json["data"] {
            guard let list = data.arrayValue else { throw ReadError(description: "\"data\" must be a list of model objects") }
            items = list
        } else if json["id"] != nil {
            items = [json]
        } else {
            throw ReadError(description: "expected a list of model objects, or {\"data\": [...]}")
        }
        var models: [ModelInfo] = []
        for (i, item) in items.enumerated() {
            do { models.append(try ModelInfo(json: item, knowing: known)) } catch {
                throw ReadError(description: "model \(i): \(error.description)")
            }
        }
        return models
    }
}
