import Crypto

/// The identity of a request for matching: SHA-256 over method, path (no query) and the canonical JSON of the
/// body with ignored paths removed. Synthetic answers are seeded from it too, so they match across machines.
public struct Fingerprint: Sendable, Hashable, CustomStringConvertible {
    /// The 32 digest bytes.
    public let bytes: [UInt8]
    /// The digest as 64 lower-case hex digits, computed once: it keys every lookup.
    public let hex: String

    /// Paths ignored by default: whether a call streams, and who the end user is, do not change its answer.
    public static let defaultIgnoredPaths: [JSONPath] = [JSONPath(parsing: "stream"), JSONPath(parsing: "metadata.user_id")]

    public init(bytes: [UInt8]) {
        self.bytes = bytes
        self.hex = Self.hex(bytes)
    }

    public init?(hex: String) {
        guard hex.utf8.count == 64 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(32)
        var iterator = hex.utf8.makeIterator()
        while let hi = iterator.next(), let lo = iterator.next() {
            guard let h = Self.nibble(hi), let l = Self.nibble(lo) else { return nil }
            out.append(h << 4 | l)
        }
        self.init(bytes: out)
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// Computes the fingerprint of a request.
    /// - Parameters:
    ///   - method: The HTTP method, upper case.
    ///   - path: The request path without its query.
    ///   - body: The parsed body, or `nil` for requests without one.
    ///   - ignoring: Paths removed from the body before hashing.
    public init(method: String, path: String, body: JSONValue?, ignoring: [JSONPath] = Fingerprint.defaultIgnoredPaths) {
        var hasher = SHA256()
        hasher.update(data: Array(method.uppercased().utf8))
        hasher.update(data: [0])
        hasher.update(data: Array(path.utf8))
        hasher.update(data: [0])
        if let body {
            hasher.update(data: JSONWriter.canonicalBytes(body.removing(ignoring)))
        }
        self.init(bytes: Array(hasher.finalize()))
    }

    static func hex(_ bytes: [UInt8]) -> String {
        String(unsafeUninitializedCapacity: bytes.count * 2) { buffer in
            for (i, b) in bytes.enumerated() {
                buffer[2 * i] = JSONWriter.hex[Int(b >> 4)]
                buffer[2 * i + 1] = JSONWriter.hex[Int(b & 0xF)]
            }
            return bytes.count * 2
        }
    }

    public static func == (lhs: Fingerprint, rhs: Fingerprint) -> Bool { lhs.bytes == rhs.bytes }
    public func hash(into hasher: inout Hasher) { hasher.combine(bytes) }

    public var description: String { hex }

    /// A 64-bit seed for deterministic generators.
    public var seed: UInt64 {
        bytes.prefix(8).reduce(0) { $0 << 8 | UInt64($1) }
    }
}
