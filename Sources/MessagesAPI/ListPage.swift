/// One page of a list the API pages by id, newest or first first: `limit`, then `after_id` (the items after that
/// one) or `before_id` (the `limit` items just before it). Models, batches and files page this way.
public struct ListPage<Item> {
    public let items: [Item]
    /// Whether items are left beyond the page, in the direction it was asked for.
    public let hasMore: Bool

    /// The page of `all`; `nil` when a cursor names an id `all` does not hold (each list words that error).
    public static func of(_ all: [Item], id: (Item) -> String, limit: Int, after: String?, before: String?) -> ListPage? {
        if let after {
            guard let i = all.firstIndex(where: { id($0) == after }) else { return nil }
            let rest = all[(i + 1)...]
            return ListPage(items: Array(rest.prefix(limit)), hasMore: rest.count > limit)
        }
        if let before {
            guard let i = all.firstIndex(where: { id($0) == before }) else { return nil }
            let start = max(0, i - limit)
            return ListPage(items: Array(all[start..<i]), hasMore: start > 0)
        }
        return ListPage(items: Array(all.prefix(limit)), hasMore: all.count > limit)
    }

    /// The `limit` query parameter: 20 when absent, the API's 400 outside 1...1000.
    public static func limit(_ text: String?) throws(APIError) -> Int {
        guard let text else { return 20 }
        guard let n = Int(text), (1...1000).contains(n) else { throw .invalidRequest("limit: Input should be between 1 and 1000") }
        return n
    }
}
