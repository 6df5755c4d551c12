/// Serializes `JSONValue`s. Compact output matches the API's own (no spaces, keys in the given order, non-ASCII
/// as UTF-8); canonical output sorts keys and normalizes numbers for fingerprints.
public enum JSONWriter {
    /// Compact bytes, keys in their stored order.
    public static func bytes(_ value: JSONValue) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(value, into: &out, canonical: false)
        return out
    }

    /// Compact text, keys in their stored order.
    public static func string(_ value: JSONValue) -> String {
        String(decoding: bytes(value), as: UTF8.self)
    }

    /// Canonical bytes: keys sorted by their UTF-8 bytes, numbers normalized, no insignificant whitespace.
    public static func canonicalBytes(_ value: JSONValue) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(value, into: &out, canonical: true)
        return out
    }

    /// Indented text for people (the CLI's `show`, the inspector).
    public static func pretty(_ value: JSONValue, indent: Int = 2) -> String {
        var out: [UInt8] = []
        writePretty(value, into: &out, level: 0, indent: indent)
        return String(decoding: out, as: UTF8.self)
    }

    public static func write(_ value: JSONValue, into out: inout [UInt8], canonical: Bool) {
        switch value {
        case .null: out.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])
        case .bool(let b): out.append(contentsOf: b ? Array("true".utf8) : Array("false".utf8))
        case .number(let n): out.append(contentsOf: (canonical ? n.canonicalLiteral : n.literal).utf8)
        case .string(let s): writeString(s, into: &out)
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            for (i, element) in elements.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                write(element, into: &out, canonical: canonical)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let object):
            out.append(UInt8(ascii: "{"))
            if canonical {
                // Sorting by UTF-8 bytes keeps the canonical form independent of locale and platform. The sort is
                // stable, so of duplicate keys the last one (the one lookups see) is the one written.
                let entries = object.entries
                let order = entries.indices.sorted { a, b in
                    let (x, y) = (entries[a].key, entries[b].key)
                    return x == y ? a < b : x.utf8.lexicographicallyPrecedes(y.utf8)
                }
                var first = true
                for (n, i) in order.enumerated() {
                    if n + 1 < order.count, entries[order[n + 1]].key == entries[i].key { continue }
                    let entry = entries[i]
                    if !first { out.append(UInt8(ascii: ",")) }
                    first = false
                    writeString(entry.key, into: &out)
                    out.append(UInt8(ascii: ":"))
                    write(entry.value, into: &out, canonical: true)
                }
            } else {
                for (i, entry) in object.entries.enumerated() {
                    if i > 0 { out.append(UInt8(ascii: ",")) }
                    writeString(entry.key, into: &out)
                    out.append(UInt8(ascii: ":"))
                    write(entry.value, into: &out, canonical: false)
                }
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    public static func writeString(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for b in s.utf8 {
            switch b {
            case 0x22: out.append(contentsOf: [0x5C, 0x22])
            case 0x5C: out.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0x08: out.append(contentsOf: [0x5C, UInt8(ascii: "b")])
            case 0x0C: out.append(contentsOf: [0x5C, UInt8(ascii: "f")])
            case 0x00..<0x20:
                out.append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30, hex[Int(b >> 4)], hex[Int(b & 0xF)]])
            default: out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    static func writePretty(_ value: JSONValue, into out: inout [UInt8], level: Int, indent: Int) {
        func newline(_ level: Int) {
            out.append(0x0A)
            out.append(contentsOf: repeatElement(UInt8(ascii: " "), count: level * indent))
        }
        switch value {
        case .array(let elements) where !elements.isEmpty:
            out.append(UInt8(ascii: "["))
            for (i, element) in elements.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                newline(level + 1)
                writePretty(element, into: &out, level: level + 1, indent: indent)
            }
            newline(level)
            out.append(UInt8(ascii: "]"))
        case .object(let object) where !object.isEmpty:
            out.append(UInt8(ascii: "{"))
            for (i, entry) in object.entries.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                newline(level + 1)
                writeString(entry.key, into: &out)
                out.append(contentsOf: [UInt8(ascii: ":"), UInt8(ascii: " ")])
                writePretty(entry.value, into: &out, level: level + 1, indent: indent)
            }
            newline(level)
            out.append(UInt8(ascii: "}"))
        default:
            write(value, into: &out, canonical: false)
        }
    }
}

extension JSONValue: CustomStringConvertible {
    public var description: String { JSONWriter.string(self) }
}
