import MessagesAPI

/// An independent checker for the JSON Schema subset the synthesizer promises to satisfy; returns the first
/// violation as "path: problem".
func violation(of value: JSONValue, against schema: JSONValue, root: JSONValue? = nil, path: String = "$") -> String? {
    let root = root ?? schema
    guard let s = schema.objectValue else { return nil }
    if let ref = s["$ref"]?.stringValue {
        var node: JSONValue? = root
        for part in ref.dropFirst(2).split(separator: "/") { node = node?[String(part)] }
        guard let target = node else { return "\(path): unresolved \(ref)" }
        return violation(of: value, against: target, root: root, path: path)
    }
    if let options = s["enum"]?.arrayValue, !options.contains(value) { return "\(path): not in enum" }
    if let constant = s["const"], constant != value { return "\(path): not const" }
    if let options = (s["anyOf"] ?? s["oneOf"])?.arrayValue {
        if options.allSatisfy({ violation(of: value, against: $0, root: root, path: path) != nil }) { return "\(path): no branch" }
    }
    if let parts = s["allOf"]?.arrayValue {
        for part in parts { if let v = violation(of: value, against: part, root: root, path: path) { return v } }
    }
    var types: [String] = []
    if let t = s["type"]?.stringValue { types = [t] }
    if let ts = s["type"]?.arrayValue { types = ts.compactMap(\.stringValue) }
    if !types.isEmpty {
        let matches = types.contains { t in
            switch (t, value) {
            case ("object", .object), ("array", .array), ("string", .string), ("boolean", .bool), ("null", .null): true
            case ("number", .number): true
            case ("integer", .number(let n)): n.isInteger
            default: false
            }
        }
        if !matches { return "\(path): expected \(types) got \(value.typeName)" }
    }
    switch value {
    case .object(let object):
        for name in (s["required"]?.arrayValue ?? []).compactMap(\.stringValue) where object[name] == nil {
            return "\(path): missing \(name)"
        }
        for (key, child) in object {
            if let propertySchema = s["properties"]?[key] {
                if let v = violation(of: child, against: propertySchema, root: root, path: "\(path).\(key)") { return v }
            } else if s["additionalProperties"] == .bool(false) {
                return "\(path): unexpected \(key)"
            }
        }
    case .array(let items):
        if let min = s["minItems"]?.intValue, items.count < min { return "\(path): too few items" }
        if let max = s["maxItems"]?.intValue, items.count > max { return "\(path): too many items" }
        if s["uniqueItems"]?.boolValue == true, Set(items).count != items.count { return "\(path): duplicate items" }
        if let itemSchema = s["items"] {
            for (i, item) in items.enumerated() {
                if let v = violation(of: item, against: itemSchema, root: root, path: "\(path)[\(i)]") { return v }
            }
        }
    case .number(let n):
        let d = n.doubleValue
        if let min = s["minimum"]?.doubleValue, d < min { return "\(path): below minimum" }
        if let max = s["maximum"]?.doubleValue, d > max { return "\(path): above maximum" }
        if let min = s["exclusiveMinimum"]?.doubleValue, d <= min { return "\(path): not above exclusiveMinimum" }
        if let max = s["exclusiveMaximum"]?.doubleValue, d >= max { return "\(path): not below exclusiveMaximum" }
        if let step = s["multipleOf"]?.doubleValue, (d / step).rounded() != d / step { return "\(path): not a multiple" }
    case .string(let text):
        if let min = s["minLength"]?.intValue, text.count < min { return "\(path): too short" }
        if let max = s["maxLength"]?.intValue, text.count > max { return "\(path): too long" }
    default:
        break
    }
    return nil
}
