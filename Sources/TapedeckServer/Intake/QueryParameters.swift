/// A query string's parameters, read the way a browser's form sends them and the API reads them.
enum QueryParameters {
    /// `+` is a space, then `%XX` escapes are decoded; the first of a repeated name wins.
    static func parse(_ query: String?) -> [String: String] {
        var result: [String: String] = [:]
        for pair in (query ?? "").split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ text: Substring) -> String { String(text).replacing("+", with: " ").removingPercentEncoding }
            let key = decode(parts[0])
            if result[key] == nil { result[key] = parts.count > 1 ? decode(parts[1]) : "" }
        }
        return result
    }
}
