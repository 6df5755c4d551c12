/// A JSON document as the wire carries it: objects keep their key order, numbers keep their literal text.
///
/// Tapedeck reads requests, fingerprints them and writes answers through this one type, so the order a client
/// or the real API chose is never lost, and canonical forms are computed from exactly what was received.
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case number(JSONNumber)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)
}

/// A JSON number kept as its literal, so integers of any size survive a round trip.
public struct JSONNumber: Sendable, Hashable, CustomStringConvertible {
    /// The literal as it appeared (or as written for numbers made in code).
    public let literal: String

    public init(literal: String) { self.literal = literal }
    public init(_ value: Int) { self.literal = String(value) }
    public init(_ value: Double) {
        if value.rounded() == value, abs(value) < 9.0e15 {
            self.literal = String(Int64(value))
        } else {
            self.literal = "\(value)"
        }
    }

    public var description: String { literal }
    public var doubleValue: Double { Double(literal) ?? .nan }

    /// The value as an `Int` when the literal is an integer that fits (`1e3` and `3.0` count as integers).
    public var intValue: Int? {
        if let i = Int(literal) { return i }
        let d = doubleValue
        guard d.isFinite, d.rounded() == d, abs(d) < 9.0e18 else { return nil }
        return Int(d)
    }

    /// Whether the literal denotes a whole number, as JSON Schema's `integer` means it.
    public var isInteger: Bool {
        if Int(literal) != nil { return true }
        let d = doubleValue
        return d.isFinite && d.rounded() == d
    }

    /// The normalized spelling used by canonical JSON: `1.0`, `1e0` and `1` all become `1`.
    public var canonicalLiteral: String {
        if !literal.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) {
            // Plain integer literal: drop a negative zero, keep big integers exact.
            return literal == "-0" ? "0" : literal
        }
        let d = doubleValue
        if d.isFinite, d.rounded() == d, abs(d) < 9.0e15 { return String(Int64(d)) }
        return "\(d)"
    }
}

/// A JSON object that remembers key order.
///
/// Small objects (nearly every request object) look keys up by scanning, which beats hashing at that size. A wide
/// object also keeps a hash index of each key's last position, so building, reading and diffing an object of
/// 100,000 keys is linear, not quadratic: a request body is the client's to make as wide as it likes.
public struct JSONObject: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral {
    public private(set) var entries: [(key: String, value: JSONValue)]
    /// Each key's last position, once the object is wider than `indexThreshold`.
    private var positions: [String: Int]?

    /// Objects with more entries than this get an index.
    static let indexThreshold = 16

    public init() { entries = [] }
    public init(_ entries: [(String, JSONValue)]) {
        self.entries = entries.map { (key: $0.0, value: $0.1) }
        reindexIfWide()
    }
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self.init(elements) }

    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }
    public var keys: [String] { entries.map(\.key) }

    private mutating func reindexIfWide() {
        guard entries.count > Self.indexThreshold else {
            positions = nil
            return
        }
        var positions: [String: Int] = [:]
        positions.reserveCapacity(entries.count)
        for (i, entry) in entries.enumerated() { positions[entry.key] = i }
        self.positions = positions
    }

    private func position(of key: String) -> Int? {
        if let positions { return positions[key] }
        return entries.lastIndex { $0.key == key }
    }

    /// The value for `key`; with duplicate keys the last one wins, as in most JSON parsers.
    public subscript(key: String) -> JSONValue? {
        get { position(of: key).map { entries[$0].value } }
        set {
            if let value = newValue {
                if let i = position(of: key) {
                    entries[i].value = value
                } else {
                    entries.append((key: key, value: value))
                    if positions != nil {
                        positions?[key] = entries.count - 1
                    } else if entries.count > Self.indexThreshold {
                        reindexIfWide()
                    }
                }
            } else if position(of: key) != nil {
                entries.removeAll { $0.key == key }
                reindexIfWide()
            }
        }
    }

    public func contains(_ key: String) -> Bool { position(of: key) != nil }

    public func makeIterator() -> IndexingIterator<[(key: String, value: JSONValue)]> { entries.makeIterator() }

    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        lhs.entries.count == rhs.entries.count
            && zip(lhs.entries, rhs.entries).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }

    public func hash(into hasher: inout Hasher) {
        for entry in entries {
            hasher.combine(entry.key)
            hasher.combine(entry.value)
        }
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByFloatLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .number(JSONNumber(value)) }
    public init(floatLiteral value: Double) { self = .number(JSONNumber(value)) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self = .object(JSONObject(elements)) }
}

extension JSONValue {
    public static func int(_ value: Int) -> JSONValue { .number(JSONNumber(value)) }

    public var objectValue: JSONObject? { if case .object(let o) = self { o } else { nil } }
    public var arrayValue: [JSONValue]? { if case .array(let a) = self { a } else { nil } }
    public var stringValue: String? { if case .string(let s) = self { s } else { nil } }
    public var boolValue: Bool? { if case .bool(let b) = self { b } else { nil } }
    public var numberValue: JSONNumber? { if case .number(let n) = self { n } else { nil } }
    public var intValue: Int? { numberValue?.intValue }
    public var doubleValue: Double? { numberValue?.doubleValue }
    public var isNull: Bool { if case .null = self { true } else { false } }

    /// Member lookup for objects; `nil` for anything else.
    public subscript(key: String) -> JSONValue? { objectValue?[key] }

    /// The JSON type name used in validation messages.
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }
}
