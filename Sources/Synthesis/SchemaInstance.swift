public import MessagesAPI

/// Builds a value that validates against a JSON Schema (the subset tool schemas use: types, required,
/// enum/const, numeric bounds, string lengths and formats, arrays, nested objects, anyOf/oneOf/allOf, `$ref`).
///
/// Sizes are bounded whatever the schema asks: a tool schema comes from the client, and a hostile one
/// (`minItems: 1e9`, twenty nested arrays) must cost milliseconds, not the server. Past the bounds the value is
/// the nearest one the budget allows, which may then not validate.
public struct SchemaInstance {
    /// Most items an array, characters a string, or properties an object gets.
    static let maxItems = 64
    static let maxLength = 4096
    static let maxProperties = 64
    /// Most values one instance holds in all: nesting multiplies sizes, this caps the product.
    static let maxValues = 2000
    /// Integer bounds are clamped to ±2^53, the range JSON numbers carry exactly.
    static let integerLimit = 9_007_199_254_740_992.0

    private var random: SeededGenerator
    private var budget = SchemaInstance.maxValues
    private let root: JSONValue
    private let hint: String

    /// - Parameters:
    ///   - schema: The root schema (used to resolve `$ref`).
    ///   - seed: The generator's seed.
    ///   - hint: Text from the conversation, used for free-form strings like `query`.
    public init(schema: JSONValue, seed: UInt64, hint: String = "") {
        self.root = schema
        self.random = SeededGenerator(seed: seed)
        self.hint = hint
    }

    public mutating func make() -> JSONValue { value(for: root, name: "", depth: 0) }

    mutating func value(for schema: JSONValue, name: String, depth: Int) -> JSONValue {
        guard case .object(let s) = schema, depth < 24 else { return .null }
        // Past the budget, values stop branching: a recursive `$ref` with two required children would
        // otherwise double at every level (2^24 values from a 148-byte schema).
        guard budget > 0 else { return leaf(s, name: name) }
        budget -= 1
        if let ref = s["$ref"]?.stringValue, let target = resolve(ref) { return value(for: target, name: name, depth: depth + 1) }
        if let constant = s["const"] { return constant }
        if let options = s["enum"]?.arrayValue, !options.isEmpty { return random.pick(options) }
        if let options = (s["anyOf"] ?? s["oneOf"])?.arrayValue, !options.isEmpty {
            // Prefer a non-null branch: a tool call full of nulls helps nobody.
            let nonNull = options.filter { $0["type"] != "null" }
            return value(for: nonNull.first ?? options[0], name: name, depth: depth + 1)
        }
        if let parts = s["allOf"]?.arrayValue, !parts.isEmpty {
            return value(for: merge(parts), name: name, depth: depth + 1)
        }
        switch type(of: s) {
        case "object": return object(s, depth: depth)
        case "array": return array(s, name: name, depth: depth)
        case "integer": return .number(JSONNumber(integer(s)))
        case "number": return number(s)
        case "boolean": return .bool(random.chance(50))
        case "null": return .null
        default: return .string(string(s, name: name))
        }
    }

    /// The cheapest value of a schema's type, with no recursion: what a value gets once the budget is spent.
    mutating func leaf(_ s: JSONObject, name: String) -> JSONValue {
        if let constant = s["const"] { return constant }
        if let first = s["enum"]?.arrayValue?.first { return first }
        switch type(of: s) {
        case "object": return .object(JSONObject())
        case "array": return .array([])
        case "integer": return .number(JSONNumber(integer(s)))
        case "number": return number(s)
        case "boolean": return .bool(false)
        case "null": return .null
        default: return .string(string(s, name: name))
        }
    }

    func type(of s: JSONObject) -> String {
        switch s["type"] {
        case .string(let t)?: return t
        case .array(let types)?:
            return types.compactMap(\.stringValue).first { $0 != "null" } ?? "null"
        default:
            if s["properties"] != nil { return "object" }
            if s["items"] != nil { return "array" }
            if s["minimum"] != nil || s["maximum"] != nil { return "number" }
            return "string"
        }
    }

    func resolve(_ ref: String) -> JSONValue? {
        guard ref.hasPrefix("#") else { return nil }
        var node: JSONValue? = root
        for part in ref.dropFirst().split(separator: "/") {
            let key = String(part).replacing("~1", with: "/").replacing("~0", with: "~")
            if let index = Int(key), let array = node?.arrayValue, array.indices.contains(index) {
                node = array[index]
            } else {
                node = node?[key]
            }
        }
        return node
    }

    func merge(_ parts: [JSONValue]) -> JSONValue {
        var merged = JSONObject()
        var properties = JSONObject()
        var required: [JSONValue] = []
        for part in parts {
            guard let object = (part["$ref"]?.stringValue.flatMap(resolve) ?? part).objectValue else { continue }
            for (key, value) in object {
                switch key {
                case "properties": for (k, v) in value.objectValue ?? JSONObject() { properties[k] = v }
                case "required": required += value.arrayValue ?? []
                default: merged[key] = value
                }
            }
        }
        if !properties.isEmpty { merged["properties"] = .object(properties) }
        if !required.isEmpty { merged["required"] = .array(required) }
        return .object(merged)
    }

    mutating func object(_ s: JSONObject, depth: Int) -> JSONValue {
        let properties = s["properties"]?.objectValue ?? JSONObject()
        let required = Set((s["required"]?.arrayValue ?? []).compactMap(\.stringValue))
        var out = JSONObject()
        // Optional properties only while the budget lasts; required ones always (as leaves once it is spent).
        for (key, propertySchema) in properties where required.contains(key) || (budget > 0 && random.chance(60)) {
            out[key] = value(for: propertySchema, name: key, depth: depth + 1)
        }
        // Required names without a property schema still need a value.
        for key in (s["required"]?.arrayValue ?? []).compactMap(\.stringValue) where out[key] == nil {
            out[key] = .string(string(JSONObject(), name: key))
        }
        if let wanted = s["minProperties"]?.intValue, out.count < wanted {
            let target = min(wanted, Self.maxProperties)
            var i = 0
            while out.count < target {
                if out["extra_\(i)"] == nil { out["extra_\(i)"] = .string("value \(i)") }
                i += 1
            }
        }
        return .object(out)
    }

    mutating func array(_ s: JSONObject, name: String, depth: Int) -> JSONValue {
        let minItems = min(max(0, s["minItems"]?.intValue ?? 1), Self.maxItems)
        let maxItems = max(minItems, min(s["maxItems"]?.intValue ?? 3, minItems + 3, Self.maxItems))
        let count = budget > 0 ? random.int(in: minItems...maxItems) : 0
        let itemSchema = s["items"] ?? ["type": "string"]
        let unique = s["uniqueItems"]?.boolValue == true
        var items: [JSONValue] = []
        var attempts = 0
        while items.count < count && attempts < count * 10 && budget > 0 {
            attempts += 1
            let item = value(for: itemSchema, name: singular(name), depth: depth + 1)
            if unique && items.contains(item) { continue }
            items.append(item)
        }
        return .array(items)
    }

    func singular(_ name: String) -> String { name.hasSuffix("s") ? String(name.dropLast()) : name }

    func bounds(_ s: JSONObject) -> (Double, Double, lowExclusive: Bool, highExclusive: Bool) {
        var low = s["minimum"]?.doubleValue ?? -.infinity
        var high = s["maximum"]?.doubleValue ?? .infinity
        var lowExclusive = false
        var highExclusive = false
        // Draft 6+ spells exclusive bounds as numbers, draft 4 as booleans beside minimum/maximum.
        if let e = s["exclusiveMinimum"]?.doubleValue, e >= low {
            low = e
            lowExclusive = true
        }
        if s["exclusiveMinimum"]?.boolValue == true { lowExclusive = true }
        if let e = s["exclusiveMaximum"]?.doubleValue, e <= high {
            high = e
            highExclusive = true
        }
        if s["exclusiveMaximum"]?.boolValue == true { highExclusive = true }
        return (low, high, lowExclusive, highExclusive)
    }

    mutating func integer(_ s: JSONObject) -> Int {
        var (lowD, highD, lowEx, highEx) = bounds(s)
        // Bounds past what a Double holds exactly cannot become Ints safely (and no model would use them).
        if lowD.isFinite { lowD = min(max(lowD, -Self.integerLimit), Self.integerLimit) }
        if highD.isFinite { highD = min(max(highD, -Self.integerLimit), Self.integerLimit) }
        var low = lowD.isFinite ? Int(lowD.rounded(.up)) : (highD.isFinite ? Int(highD) - 100 : 0)
        var high = highD.isFinite ? Int(highD.rounded(.down)) : low + 100
        if lowEx, Double(low) == lowD { low += 1 }
        if highEx, Double(high) == highD { high -= 1 }
        if high < low { high = low }
        var n = random.int(in: low...high)
        if let step = s["multipleOf"]?.intValue, step > 0 {
            n = (n / step) * step
            if n < low { n = n &+ step }
        }
        return n
    }

    mutating func number(_ s: JSONObject) -> JSONValue {
        if s["multipleOf"] != nil { return .number(JSONNumber(integer(s))) }
        let (low, high, lowEx, highEx) = bounds(s)
        let lo = low.isFinite ? low : (high.isFinite ? high - 100 : 0)
        let hi = high.isFinite ? high : lo + 100
        let fraction = Double(random.int(in: 1...99)) / 100
        var x = lo + (hi - lo) * fraction
        x = (x * 100).rounded() / 100
        if !x.isFinite { x = lo / 2 + hi / 2 }
        if x < lo || (lowEx && x == lo) || x > hi || (highEx && x == hi) { x = (lo + hi) / 2 }
        return .number(JSONNumber(x))
    }

    static let cities = ["San Francisco, CA", "Paris, France", "Tokyo, Japan", "Berlin, Germany", "Austin, TX"]
    static let names = ["Ada Lovelace", "Grace Hopper", "Alan Turing", "Katherine Johnson"]
    static let words = ["alpha", "bravo", "delta", "echo", "kilo", "lima", "oscar", "tango"]

    mutating func string(_ s: JSONObject, name: String) -> String {
        let minLength = min(max(0, s["minLength"]?.intValue ?? 0), Self.maxLength)
        let maxLength = max(0, s["maxLength"]?.intValue ?? Int.max)
        // A pattern decides the whole string when it is in the subset PatternString writes.
        if let pattern = s["pattern"]?.stringValue, let text = PatternString.make(pattern, random: &random) { return text }
        var text: String
        switch s["format"]?.stringValue {
        case "date": text = "2025-0\(random.int(in: 1...9))-1\(random.int(in: 0...9))"
        case "date-time": text = "2025-0\(random.int(in: 1...9))-1\(random.int(in: 0...9))T12:00:00Z"
        case "time": text = "12:\(random.int(in: 10...59)):00"
        case "email": text = "\(random.pick(Self.words))@example.com"
        case "uri", "url": text = "https://example.com/\(random.pick(Self.words))"
        case "uuid": text = "123e4567-e89b-42d3-a456-42661417400\(random.int(in: 0...9))"
        case "ipv4": text = "192.0.2.\(random.int(in: 1...254))"
        default: text = freeText(name: name.lowercased())
        }
        if text.count > maxLength { text = String(text.prefix(maxLength)) }
        if text.count < minLength { text += String(repeating: "x", count: minLength - text.count) }
        return text
    }

    mutating func freeText(name: String) -> String {
        if name.contains("location") || name.contains("city") || name.contains("place") { return random.pick(Self.cities) }
        if name.contains("name") { return random.pick(Self.names) }
        if name.contains("query") || name.contains("question") || name.contains("prompt") || name.contains("text") {
            let words = hint.split(whereSeparator: { $0.isWhitespace }).prefix(8)
            if !words.isEmpty { return words.joined(separator: " ") }
        }
        if name.contains("unit") { return random.pick(["celsius", "fahrenheit"]) }
        if name.contains("language") || name.contains("lang") { return random.pick(["en", "fr", "ja"]) }
        if name.contains("id") { return "\(random.pick(Self.words))-\(random.int(in: 100...999))" }
        return random.pick(Self.words) + " " + random.pick(Self.words)
    }
}
