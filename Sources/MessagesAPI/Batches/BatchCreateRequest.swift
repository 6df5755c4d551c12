/// The body of `POST /v1/messages/batches`, checked as the API checks it before it looks at any request inside:
/// a refusal here fails the whole create (400), while a request whose `params` are invalid is accepted and later
/// answers with an `errored` result, as the API does.
public struct BatchCreateRequest: Sendable, Equatable {
    /// One request of the batch: the caller's id and the body `/v1/messages` would get.
    public struct Item: Sendable, Equatable {
        public let customID: String
        public let params: JSONValue
    }

    public let items: [Item]

    /// Most requests in one batch [DOC maxItems 100000].
    public static let maxRequests = 100_000
    /// What a `custom_id` may be [DOC pattern, minLength 1, maxLength 64].
    public static let customIDPattern = "^[a-zA-Z0-9_-]{1,64}$"
    static let customIDMaxLength = 64

    /// Checks `body`, in the order pydantic reports: each item's fields, then the list's length; then the
    /// uniqueness of `custom_id`s.
    public init(parsing body: JSONValue?) throws(APIError) {
        guard case .object(let object)? = body else { throw APIError(Refusal.notAnObject) }
        guard let requests = object["requests"] else { throw APIError(Refusal.missing("requests")) }
        guard case .array(let list) = requests else { throw APIError(Refusal.notA("list", at: "requests")) }
        var items: [Item] = []
        items.reserveCapacity(list.count)
        for (i, entry) in list.enumerated() {
            let at = "requests.\(i)"
            guard case .object(let request) = entry else {
                throw APIError(Refusal.notA("dictionary or object to extract fields from", at: at))
            }
            guard let id = request["custom_id"] else { throw APIError(Refusal.missing(at + ".custom_id")) }
            guard case .string(let customID) = id else { throw APIError(Refusal.notA("string", at: at + ".custom_id")) }
            try Self.check(customID: customID, at: at + ".custom_id")
            guard let params = request["params"] else { throw APIError(Refusal.missing(at + ".params")) }
            guard case .object = params else {
                throw APIError(Refusal.notA("dictionary or object to extract fields from", at: at + ".params"))
            }
            items.append(Item(customID: customID, params: params))
        }
        if items.isEmpty { throw APIError(BatchRefusal.noRequests) }
        if items.count > Self.maxRequests {
            throw APIError(Refusal.tooManyItems(maximum: Self.maxRequests, count: items.count, at: "requests"))
        }
        var seen = Set<String>()
        for (i, item) in items.enumerated() where !seen.insert(item.customID).inserted {
            throw APIError(BatchRefusal.duplicateCustomID(item.customID, at: i))
        }
        self.items = items
    }

    /// Length before pattern, as pydantic checks a constrained string [ISS anthropic-sdk-python#984:
    /// `requests.0.custom_id: String should have at most 64 characters` for 65 characters].
    static func check(customID: String, at path: String) throws(APIError) {
        let length = customID.count
        if length < 1 { throw APIError(Refusal.tooShort(minimum: 1, at: path)) }
        if length > customIDMaxLength { throw APIError(Refusal.tooLong(maximum: customIDMaxLength, at: path)) }
        let allowed = customID.utf8.allSatisfy { byte in
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
        }
        if !allowed { throw APIError(Refusal.pattern(customIDPattern, at: path)) }
    }
}
