import Crypto

/// Ids in the API's format: a prefix, `01`, then 22 base58 characters, derived (never random) from a seed.
public enum Identifier {
    static let base58: [Character] = Array("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz")

    public static let message = "msg_"
    public static let toolUse = "toolu_"
    public static let request = "req_"

    /// A deterministic id: the same prefix, seed and label always give the same id.
    public static func make(prefix: String, seed: [UInt8], label: String = "") -> String {
        var hasher = SHA256()
        hasher.update(data: seed)
        hasher.update(data: Array(prefix.utf8))
        hasher.update(data: Array(label.utf8))
        let digest = Array(hasher.finalize())
        var out = prefix + "01"
        for i in 0..<22 {
            out.append(base58[Int(digest[i]) % 58])
        }
        return out
    }

    /// A `request-id` derived from `seed`, for an answer no request is known for (an error before HTTP parsing).
    public static func requestID(seed: [UInt8]) -> String {
        make(prefix: request, seed: seed, label: "request")
    }

    /// The `request-id` of an answer Tapedeck makes itself for a request (synthesized, completed from a fixture, an
    /// error): derived from the request as sent (method, target with its query, body bytes, `stream` included) and
    /// which time it was sent, so distinct requests get distinct ids, and a rerun of the same requests the same ids.
    public static func requestID(method: String, target: String, body: [UInt8], occurrence: Int) -> String {
        var hasher = SHA256()
        hasher.update(data: Array(method.utf8))
        hasher.update(data: [0])
        hasher.update(data: Array(target.utf8))
        hasher.update(data: [0])
        hasher.update(data: Array(String(occurrence).utf8))
        hasher.update(data: [0])
        hasher.update(data: body)
        return requestID(seed: Array(hasher.finalize()))
    }

    /// Whether `id` has the API's shape for `prefix`.
    public static func isWellFormed(_ id: String, prefix: String) -> Bool {
        guard id.hasPrefix(prefix + "01") else { return false }
        let body = id.dropFirst(prefix.count)
        return body.count == 24 && body.dropFirst(2).allSatisfy { base58.contains($0) }
    }
}
