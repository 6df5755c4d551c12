import MessagesAPI
import Testing

@Suite("JSON parsing and writing")
struct JSONTests {
    @Test(arguments: [
        #"{"a":1,"b":[true,false,null],"c":"x"}"#,
        #"{"z":1,"a":2}"#,
        #"[1,-0.5,3e10,"\u00e9\n"]"#,
        #"{"text":"caf\u00e9 \ud83d\ude00"}"#,
        #""plain""#,
    ])
    func roundTripsCompactly(_ text: String) throws {
        let value = try JSONParser.parse(text)
        let again = try JSONParser.parse(JSONWriter.string(value))
        #expect(again == value)
    }

    @Test func keepsKeyOrderAndLiterals() throws {
        let value = try JSONParser.parse(#"{"z" : 1.50, "a" : 12345678901234567890123}"#)
        #expect(JSONWriter.string(value) == #"{"z":1.50,"a":12345678901234567890123}"#)
    }

    @Test func canonicalFormSortsKeysAndNormalizesNumbers() throws {
        let a = try JSONParser.parse(#"{"b": 1.0, "a": {"y": 2e0, "x": [1, 2]}}"#)
        let b = try JSONParser.parse(#"{"a":{"x":[1,2],"y":2},"b":1}"#)
        #expect(JSONWriter.canonicalBytes(a) == JSONWriter.canonicalBytes(b))
        #expect(String(decoding: JSONWriter.canonicalBytes(a), as: UTF8.self) == #"{"a":{"x":[1,2],"y":2},"b":1}"#)
    }

    @Test func escapesControlCharactersButNotUnicode() {
        let value: JSONValue = .string("a\"b\\c\n\u{01}é😀/")
        #expect(JSONWriter.string(value) == #""a\"b\\c\n\u0001é😀/""#)
    }

    @Test(arguments: [
        ("", "the body is empty"),
        ("{", "unexpected end"),
        ("{\"a\":}", "unexpected character '}'"),
        ("[1,]", "unexpected character ']'"),
        ("{\"a\":1} x", "extra data"),
        ("tru", "unexpected end"),
        ("01", "extra data"),
        ("\"\\x\"", "invalid string escape"),
        ("\"\\ud800\"", "invalid string escape"),
        ("\"a\tb\"", "unexpected byte 0x9"),
        ("1.", "invalid number"),
    ])
    func rejectsMalformedInput(_ text: String, _ expected: String) {
        #expect {
            _ = try JSONParser.parse(text)
        } throws: { error in
            "\(error)".contains(expected)
        }
    }

    @Test func rejectsInvalidUTF8WithItsOffset() {
        let bytes: [UInt8] = Array(#"{"a":"ok"#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8)
        #expect(throws: JSONParseError(reason: .invalidUTF8, offset: 8)) { try JSONParser.parse(bytes) }
    }

    @Test func limitsNestingDepth() throws {
        let deep = String(repeating: "[", count: 200_000) + String(repeating: "]", count: 200_000)
        #expect(throws: JSONParseError.self) { try JSONParser.parse(deep) }
        let ok = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(throws: Never.self) { try JSONParser.parse(ok) }
    }

    @Test func pathsParseAndRemove() throws {
        let value = try JSONParser.parse(#"{"metadata":{"user_id":"u","x":1},"messages":[{"a":1,"b":2}]}"#)
        let removed = value.removing([JSONPath(parsing: "metadata.user_id"), JSONPath(parsing: "messages[0].b")])
        #expect(JSONWriter.string(removed) == #"{"metadata":{"x":1},"messages":[{"a":1}]}"#)
        #expect(JSONPath(parsing: "$.a.b[2].c").description == "a.b[2].c")
        #expect(JSONPath(parsing: "a.0.c").dotted == "a.0.c")
    }

    @Test func findsTheFirstDifference() throws {
        let a = try JSONParser.parse(#"{"messages":[{"role":"user","content":"Hi"}]}"#)
        let b = try JSONParser.parse(#"{"messages":[{"role":"user","content":"Hello"}]}"#)
        let difference = try #require(a.firstDifference(from: b))
        #expect(difference.path.description == "messages[0].content")
        #expect(difference.mine == "Hi")
        #expect(difference.theirs == "Hello")
        #expect(a.firstDifference(from: a) == nil)
    }
}

@Suite("Fingerprints and ids")
struct FingerprintTests {
    @Test func ignoresStreamUserIDAndKeyOrder() throws {
        let a = try JSONParser.parse(#"{"model":"m","stream":true,"metadata":{"user_id":"alice"},"max_tokens":5}"#)
        let b = try JSONParser.parse(#"{"max_tokens":5.0,"metadata":{"user_id":"bob"},"model":"m"}"#)
        #expect(Fingerprint(method: "POST", path: "/v1/messages", body: a) == Fingerprint(method: "POST", path: "/v1/messages", body: b))
    }

    @Test func aMetadataObjectHoldingOnlyTheUserIDCountsAsAbsent() throws {
        let a = try JSONParser.parse(#"{"model":"m","metadata":{"user_id":"alice"}}"#)
        let b = try JSONParser.parse(#"{"model":"m"}"#)
        let c = try JSONParser.parse(#"{"model":"m","metadata":{}}"#)
        #expect(Fingerprint(method: "POST", path: "/p", body: a) == Fingerprint(method: "POST", path: "/p", body: b))
        // An object that was already empty is kept: only emptiness caused by ignoring is dropped.
        #expect(Fingerprint(method: "POST", path: "/p", body: c) != Fingerprint(method: "POST", path: "/p", body: b))
    }

    @Test func dependsOnPathMethodAndBody() throws {
        let body = try JSONParser.parse(#"{"model":"m"}"#)
        let base = Fingerprint(method: "POST", path: "/v1/messages", body: body)
        #expect(base != Fingerprint(method: "POST", path: "/v1/messages/count_tokens", body: body))
        #expect(base != Fingerprint(method: "GET", path: "/v1/messages", body: body))
        #expect(base != Fingerprint(method: "POST", path: "/v1/messages", body: try JSONParser.parse(#"{"model":"n"}"#)))
        #expect(base.hex.count == 64)
        #expect(Fingerprint(hex: base.hex) == base)
    }

    @Test func extraIgnoredPathsAreLeftOut() throws {
        let a = try JSONParser.parse(#"{"model":"m","temperature":0.2}"#)
        let b = try JSONParser.parse(#"{"model":"m","temperature":0.9}"#)
        let ignoring = Fingerprint.defaultIgnoredPaths + [JSONPath(parsing: "temperature")]
        #expect(Fingerprint(method: "POST", path: "/p", body: a) != Fingerprint(method: "POST", path: "/p", body: b))
        #expect(
            Fingerprint(method: "POST", path: "/p", body: a, ignoring: ignoring)
                == Fingerprint(method: "POST", path: "/p", body: b, ignoring: ignoring))
    }

    @Test(arguments: [Identifier.message, Identifier.toolUse, Identifier.request])
    func idsHaveTheAPIsShape(_ prefix: String) {
        let id = Identifier.make(prefix: prefix, seed: [1, 2, 3])
        #expect(Identifier.isWellFormed(id, prefix: prefix))
        #expect(id.count == prefix.count + 24)
        #expect(id == Identifier.make(prefix: prefix, seed: [1, 2, 3]))
        #expect(id != Identifier.make(prefix: prefix, seed: [1, 2, 4]))
        #expect(!id.dropFirst(prefix.count + 2).contains { "0OIl".contains($0) })
    }
}

@Suite("Wide JSON objects")
struct WideObjectTests {
    /// Past the index threshold the object must behave exactly as a scanned one: order, last duplicate wins,
    /// removal, and appends after removal.
    @Test(arguments: [4, 17, 40])
    func behavesTheSameAtAnyWidth(width: Int) {
        var object = JSONObject((0..<width).map { ("k\($0)", JSONValue.int($0)) } + [("k1", .int(-1))])
        #expect(object["k1"] == .int(-1), "the last of duplicate keys wins")
        #expect(object.count == width + 1)
        object["k0"] = .string("changed")
        #expect(object.keys.first == "k0" && object["k0"] == .string("changed"), "a set keeps the key's place")
        object["k1"] = nil
        #expect(!object.contains("k1") && object["k1"] == nil && object.count == width - 1, "removal takes every duplicate")
        object["new"] = true
        #expect(object.keys.last == "new" && object["new"] == true)
        #expect(object["k\(width - 1)"] == .int(width - 1))
    }

    @Test func aHundredThousandKeysParseAndDiffInLinearTime() throws {
        let text = "{" + (0..<100_000).map { "\"key\($0)\":\($0)" }.joined(separator: ",") + "}"
        let a = try JSONParser.parse(text)
        var changed = try #require(a.objectValue)
        changed["key99999"] = .int(-1)
        let b = JSONValue.object(changed)
        #expect(a.differenceCount(from: b) == 1)
        #expect(a.firstDifference(from: b)?.path.description == "key99999")
    }
}
