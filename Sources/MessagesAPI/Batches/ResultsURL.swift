/// `results_url` points at whoever made the batch object: the real API, or the upstream a cassette was recorded
/// from. The SDKs fetch results from that absolute URL, so an answer Tapedeck relays or replays must name
/// Tapedeck's own address there, or a replay would call the network.
public enum ResultsURL {
    static let marker = Array("/v1/messages/batches/".utf8)
    static let key = Array("\"results_url\"".utf8)

    /// `json` with every `"results_url": "…/v1/messages/batches/…"` value's origin replaced by `base` (the rest of the
    /// bytes untouched); `nil` when there is none to replace.
    public static func rewrite(_ json: [UInt8], base: String) -> [UInt8]? {
        let replacement = Array(base.utf8)
        var out: [UInt8] = []
        var changed = false
        var i = 0
        var copied = 0
        while let k = find(key, in: json, from: i) {
            var j = k + key.count
            j = skipSpace(json, j)
            guard j < json.count, json[j] == UInt8(ascii: ":") else {
                i = k + key.count
                continue
            }
            j = skipSpace(json, j + 1)
            guard j < json.count, json[j] == UInt8(ascii: "\"") else {
                i = j
                continue
            }
            let start = j + 1
            guard let end = json[start...].firstIndex(of: UInt8(ascii: "\"")) else { break }
            if let m = find(marker, in: json, from: start), m < end {
                out.append(contentsOf: json[copied..<start])
                out.append(contentsOf: replacement)
                copied = m
                changed = true
            }
            i = end + 1
        }
        guard changed else { return nil }
        out.append(contentsOf: json[copied...])
        return out
    }

    static func skipSpace(_ bytes: [UInt8], _ from: Int) -> Int {
        var j = from
        while j < bytes.count, [UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t")].contains(bytes[j]) {
            j += 1
        }
        return j
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8], from: Int) -> Int? {
        guard needle.count <= haystack.count, from <= haystack.count - needle.count else { return nil }
        var i = from
        while i <= haystack.count - needle.count {
            if haystack[i] == needle[0], haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }
}
