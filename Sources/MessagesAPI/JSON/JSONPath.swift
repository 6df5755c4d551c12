/// A location inside a JSON document, written the way the API's validation messages write it:
/// `messages.0.content` for error messages, `messages[0].content` for people reading a diff.
public struct JSONPath: Sendable, Hashable, CustomStringConvertible {
    public enum Component: Sendable, Hashable {
        case key(String)
        case index(Int)
    }

    public var components: [Component]

    public init(_ components: [Component] = []) { self.components = components }

    /// Parses `a.b[0].c`, `a.b.0.c` or `$.a.b`; `*` as a key matches any key or index.
    public init(parsing text: String) {
        var components: [Component] = []
        var trimmed = Substring(text)
        if trimmed.hasPrefix("$.") { trimmed = trimmed.dropFirst(2) } else if trimmed == "$" { trimmed = "" }
        for part in trimmed.split(separator: ".", omittingEmptySubsequences: true) {
            var rest = part
            if let bracket = rest.firstIndex(of: "[") {
                let head = rest[..<bracket]
                if !head.isEmpty { components.append(.key(String(head))) }
                rest = rest[bracket...]
                while rest.hasPrefix("["), let close = rest.firstIndex(of: "]") {
                    let inner = rest[rest.index(after: rest.startIndex)..<close]
                    if let i = Int(inner) { components.append(.index(i)) } else { components.append(.key(String(inner))) }
                    rest = rest[rest.index(after: close)...]
                }
            } else if let i = Int(rest) {
                components.append(.index(i))
            } else {
                components.append(.key(String(rest)))
            }
        }
        self.components = components
    }

    public func appending(_ key: String) -> JSONPath { JSONPath(components + [.key(key)]) }
    public func appending(_ index: Int) -> JSONPath { JSONPath(components + [.index(index)]) }

    /// `messages.0.content`, the style of the API's validation messages.
    public var dotted: String {
        components.map {
            switch $0 {
            case .key(let k): k
            case .index(let i): String(i)
            }
        }.joined(separator: ".")
    }

    /// `messages[0].content`, the style used in miss diagnostics.
    public var description: String {
        var out = ""
        for component in components {
            switch component {
            case .key(let k): out += out.isEmpty ? k : ".\(k)"
            case .index(let i): out += "[\(i)]"
            }
        }
        return out.isEmpty ? "$" : out
    }
}

extension JSONValue {
    /// A copy without the values at `paths`; `*` matches every key or index at its level.
    public func removing(_ paths: [JSONPath]) -> JSONValue {
        var result = self
        for path in paths where !path.components.isEmpty {
            result = result.removing(path.components[...])
        }
        return result
    }

    private func removing(_ components: ArraySlice<JSONPath.Component>) -> JSONValue {
        guard let first = components.first else { return self }
        let rest = components.dropFirst()
        switch (self, first) {
        case (.object(var object), .key(let key)):
            if key == "*" {
                if rest.isEmpty { return .object(JSONObject()) }
                return .object(JSONObject(object.entries.map { ($0.key, $0.value.removing(rest)) }))
            }
            guard let child = object[key] else { return self }
            if rest.isEmpty {
                object[key] = Optional<JSONValue>.none
            } else {
                let trimmed = child.removing(rest)
                // An object emptied by the removal goes too: `{"metadata":{"user_id":"x"}}` matches `{}`.
                if case .object(let o) = trimmed, o.isEmpty, child != trimmed {
                    object[key] = Optional<JSONValue>.none
                } else {
                    object[key] = trimmed
                }
            }
            return .object(object)
        case (.array(var array), .index(let i)):
            guard array.indices.contains(i) else { return self }
            if rest.isEmpty { array.remove(at: i) } else { array[i] = array[i].removing(rest) }
            return .array(array)
        case (.array(let array), .key("*")):
            if rest.isEmpty { return .array([]) }
            return .array(array.map { $0.removing(rest) })
        default:
            return self
        }
    }

    /// The first place where two documents differ, with both values there (`nil` where one side lacks it).
    /// How many leaves differ between the two values (a missing member or element counts once), counting no
    /// further than `limit`.
    public func differenceCount(from other: JSONValue, limit: Int = 1000) -> Int {
        var count = 0
        func visit(_ a: JSONValue?, _ b: JSONValue?) {
            guard count < limit else { return }
            switch (a, b) {
            case (.object(let x)?, .object(let y)?):
                for key in x.keys { visit(x[key], y[key]) }
                for key in y.keys where !x.contains(key) { visit(nil, y[key]) }
            case (.array(let x)?, .array(let y)?):
                for i in 0..<max(x.count, y.count) { visit(i < x.count ? x[i] : nil, i < y.count ? y[i] : nil) }
            case (.number(let x)?, .number(let y)?):
                if x.canonicalLiteral != y.canonicalLiteral { count += 1 }
            default:
                if a != b { count += 1 }
            }
        }
        visit(self, other)
        return count
    }

    public func firstDifference(from other: JSONValue, at path: JSONPath = JSONPath())
        -> (path: JSONPath, mine: JSONValue?, theirs: JSONValue?)?
    {
        switch (self, other) {
        case (.object(let a), .object(let b)):
            let keys = a.keys + b.keys.filter { !a.contains($0) }
            for key in keys {
                switch (a[key], b[key]) {
                case (let x?, let y?):
                    if let d = x.firstDifference(from: y, at: path.appending(key)) { return d }
                case (let x, let y):
                    if x != y { return (path.appending(key), x, y) }
                }
            }
            return nil
        case (.array(let a), .array(let b)):
            for i in 0..<max(a.count, b.count) {
                guard i < a.count else { return (path.appending(i), nil, b[i]) }
                guard i < b.count else { return (path.appending(i), a[i], nil) }
                if let d = a[i].firstDifference(from: b[i], at: path.appending(i)) { return d }
            }
            return nil
        case (.number(let x), .number(let y)):
            return x.canonicalLiteral == y.canonicalLiteral ? nil : (path, self, other)
        default:
            return self == other ? nil : (path, self, other)
        }
    }
}
