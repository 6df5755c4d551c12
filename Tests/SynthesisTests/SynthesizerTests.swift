import MessagesAPI
import Testing

@testable import Synthesis

/// Builds a validated request from JSON text and synthesizes its answer.
func synthesize(_ text: String) throws -> (message: JSONValue, request: MessagesRequest) {
    let body = try RequestValidator.parseBody(Array(text.utf8))
    let validator = RequestValidator()
    let request = try validator.validateShape(body, endpoint: .messages)
    let model = try validator.validateModel(request)
    let fingerprint = Fingerprint(method: "POST", path: "/v1/messages", body: .object(body))
    return (
        Synthesizer(vocabulary: try ShippedVocabulary.get()).message(for: request, model: model, fingerprint: fingerprint).json, request
    )
}

func request(_ extra: String = "", prompt: String = "Tell me about tapes", maxTokens: Int = 1024) -> String {
    #"{"model":"claude-sonnet-4-5","max_tokens":\#(maxTokens),"messages":[{"role":"user","content":"\#(prompt)"}]\#(extra)}"#
}

func blocks(_ message: JSONValue) -> [JSONValue] { message["content"]?.arrayValue ?? [] }
func text(_ message: JSONValue) -> String { blocks(message).compactMap { $0["text"]?.stringValue }.joined() }

@Suite("Synthetic answers")
struct SynthesizerTests {
    @Test func sameRequestSameAnswerDifferentRequestDifferentAnswer() throws {
        let a = try synthesize(request()).message
        let b = try synthesize(request()).message
        let c = try synthesize(request(prompt: "Something else entirely")).message
        #expect(JSONWriter.bytes(a) == JSONWriter.bytes(b))
        #expect(text(a) != text(c))
        #expect(a["id"] != c["id"])
    }

    @Test func plainAnswerHasTheMessageShape() throws {
        let message = try synthesize(request()).message
        #expect(
            message.objectValue?.keys == [
                "model", "id", "type", "role", "content", "stop_reason", "stop_sequence", "stop_details", "usage",
            ])
        #expect(message["model"] == "claude-sonnet-4-5-20250929")
        #expect(Identifier.isWellFormed(message["id"]?.stringValue ?? "", prefix: "msg_"))
        #expect(message["stop_reason"] == "end_turn")
        #expect(blocks(message).count == 1)
        #expect(!text(message).isEmpty)
        let usage = try #require(message["usage"])
        #expect(usage["output_tokens"]?.intValue == TokenEstimator.count(text(message)))
        #expect((usage["input_tokens"]?.intValue ?? 0) > 0)
    }

    @Test func inputTokensMatchTheEstimator() throws {
        let (message, request) = try synthesize(request(#","system":"Be brief.""#))
        #expect(message["usage"]?["input_tokens"]?.intValue == TokenEstimator.inputTokens(for: request))
    }

    @Test(arguments: [1, 3, 5, 12])
    func maxTokensCutsTheAnswer(_ limit: Int) throws {
        let message = try synthesize(request(maxTokens: limit)).message
        #expect(message["stop_reason"] == "max_tokens")
        #expect(message["usage"]?["output_tokens"]?.intValue == limit)
        #expect(TokenEstimator.count(text(message)) == limit)
    }

    @Test(arguments: ["</answer>", "END", "\n\nHuman:"])
    func stopSequencesAreHitAndLeftOut(_ stop: String) throws {
        let stopJSON = JSONWriter.string(.string(stop))
        let message = try synthesize(request(#","stop_sequences":[\#(stopJSON),"never-appears-xyz"]"#)).message
        #expect(message["stop_reason"] == "stop_sequence")
        #expect(message["stop_sequence"] == .string(stop))
        #expect(!text(message).contains(stop))
        #expect(!text(message).isEmpty)
    }

    @Test func thinkingComesFirstWithASignature() throws {
        let message = try synthesize(request(#","thinking":{"type":"enabled","budget_tokens":1024}"#, maxTokens: 2048)).message
        let first = try #require(blocks(message).first)
        #expect(first["type"] == "thinking")
        #expect(first["thinking"]?.stringValue?.isEmpty == false)
        let signature = try #require(first["signature"]?.stringValue)
        #expect(signature.hasPrefix("E"))
        #expect(signature.count % 4 == 0)
        #expect(blocks(message).last?["type"] == "text")
        let thinkingTokens = try #require(message["usage"]?["output_tokens_details"]?["thinking_tokens"]?.intValue)
        #expect(thinkingTokens == TokenEstimator.count(first["thinking"]?.stringValue ?? ""))
        #expect(message["usage"]?["output_tokens"]?.intValue == thinkingTokens + TokenEstimator.count(text(message)))
    }

    @Test func omittedThinkingKeepsTheSignature() throws {
        let message = try synthesize(request(#","thinking":{"type":"adaptive","display":"omitted"}"#)).message
        let first = try #require(blocks(message).first)
        #expect(first["thinking"] == "")
        #expect(first["signature"]?.stringValue?.isEmpty == false)
    }

    @Test func magicStringGivesRedactedThinking() throws {
        let prompt = Synthesizer.redactedThinkingTrigger
        let message = try synthesize(request(#","thinking":{"type":"enabled","budget_tokens":1024}"#, prompt: prompt, maxTokens: 2048))
            .message
        #expect(blocks(message).first?["type"] == "redacted_thinking")
        #expect(blocks(message).first?["data"]?.stringValue?.hasPrefix("E") == true)
    }

    static let weatherTool =
        #"{"name":"get_weather","description":"Weather","input_schema":{"type":"object","properties":{"location":{"type":"string"},"unit":{"type":"string","enum":["celsius","fahrenheit"]},"days":{"type":"integer","minimum":1,"maximum":7}},"required":["location","unit","days"]}}"#

    @Test func forcedToolChoiceCallsTheTool() throws {
        let message = try synthesize(request(#","tools":[\#(Self.weatherTool)],"tool_choice":{"type":"tool","name":"get_weather"}"#))
            .message
        #expect(message["stop_reason"] == "tool_use")
        let call = try #require(blocks(message).last)
        #expect(call["type"] == "tool_use")
        #expect(call["name"] == "get_weather")
        #expect(Identifier.isWellFormed(call["id"]?.stringValue ?? "", prefix: "toolu_"))
        let schema = try JSONParser.parse(Self.weatherTool)["input_schema"]!
        #expect(violation(of: call["input"]!, against: schema) == nil)
    }

    @Test func autoCallsTheToolThePromptNamesAndNoneOtherwise() throws {
        for prompt in ["What is the weather in Oslo?", "Use get_weather for Paris", "Please GET WEATHER now"] {
            let message = try synthesize(request(#","tools":[\#(Self.weatherTool)]"#, prompt: prompt)).message
            #expect(message["stop_reason"] == "tool_use", "\(prompt)")
            #expect(blocks(message).last?["name"] == "get_weather")
        }
        for prompt in ["Tell me a joke", "Say hello in five words", "Summarize tapes"] {
            let message = try synthesize(request(#","tools":[\#(Self.weatherTool)]"#, prompt: prompt)).message
            #expect(message["stop_reason"] == "end_turn", "\(prompt)")
        }
        // A deferred tool is not in the model's context: naming it calls nothing.
        let deferred = Self.weatherTool.replacing(#""name":"get_weather","#, with: #""name":"get_weather","defer_loading":true,"#)
        #expect(try synthesize(request(#","tools":[\#(deferred)]"#, prompt: "Weather in Oslo?")).message["stop_reason"] == "end_turn")
        let afterResult =
            #"{"model":"claude-sonnet-4-5","max_tokens":500,"tools":[\#(Self.weatherTool)],"messages":[{"role":"user","content":"Weather?"},{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"Sunny"}]}]}"#
        #expect(try synthesize(afterResult).message["stop_reason"] == "end_turn")
    }

    @Test func toolPickerReadsNamesAndShortDescriptions() {
        let tools: [MessagesRequest.Tool] = [
            .init(name: "WebSearch", description: "Search the web", inputSchema: ["type": "object"]),
            .init(name: "lookup_stock", description: "Stock prices for a ticker symbol", inputSchema: ["type": "object"]),
        ]
        #expect(ToolPicker.tool(namedIn: "search for tapes", among: tools)?.name == "WebSearch")
        #expect(ToolPicker.tool(namedIn: "what does ACME's ticker trade at?", among: tools)?.name == "lookup_stock")
        #expect(ToolPicker.tool(namedIn: "hello there", among: tools) == nil)
        // A tool's long manual shares words with most prompts: only its name calls it.
        let manual = MessagesRequest.Tool(
            name: "ScheduleWakeup",
            description: "Schedule when to resume work in a loop. Keep the reason short, one sentence the user will read, "
                + "and choose delays carefully: cache windows, idle ticks, heartbeat intervals, fallback timers, "
                + "pacing between checks, and always pass the same prompt back verbatim each turn.",
            inputSchema: ["type": "object"])
        #expect(ToolPicker.tool(namedIn: "Say hello in one short sentence.", among: [manual]) == nil)
        #expect(ToolPicker.tool(namedIn: "Schedule a wakeup in ten minutes", among: [manual])?.name == "ScheduleWakeup")
        #expect(ToolPicker.words(of: "WebSearch get_weather") == ["web", "search", "get", "weather"])
    }

    @Test(arguments: SynthesizerTests.schemas)
    func structuredOutputIsJSONThatValidates(_ schemaText: String) throws {
        let schema = try JSONParser.parse(schemaText)
        for extra in [
            #","output_config":{"format":{"type":"json_schema","schema":\#(schemaText)}}"#,
            #","output_config":{"effort":"low","format":{"type":"json_schema","schema":\#(schemaText)}},"thinking":{"type":"adaptive"}"#,
        ] {
            let (message, _) = try synthesize(request(extra, maxTokens: 4096))
            #expect(message["stop_reason"] == "end_turn")
            let answer = try JSONParser.parse(text(message))
            #expect(violation(of: answer, against: schema) == nil, "\(text(message))")
            #expect(JSONWriter.bytes(try synthesize(request(extra, maxTokens: 4096)).message) == JSONWriter.bytes(message))
        }
    }

    @Test func thinkingInterleavesAfterAToolResultOnlyWithItsBetaOrInAdaptiveMode() throws {
        func answer(_ thinking: String, betas: [String]) throws -> [JSONValue] {
            let text =
                #"{"model":"claude-sonnet-4-5","max_tokens":4000,"thinking":\#(thinking),"tools":[\#(Self.weatherTool)],"messages":[{"role":"user","content":"Weather?"},{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"Sunny"}]}]}"#
            let body = try RequestValidator.parseBody(Array(text.utf8))
            let request = try RequestValidator().validateShape(body, endpoint: .messages, dialect: RequestDialect(betas: betas))
            let model = try RequestValidator().validateModel(request)
            let fingerprint = Fingerprint(method: "POST", path: "/v1/messages", body: .object(body))
            return blocks(
                Synthesizer(vocabulary: try ShippedVocabulary.get()).message(for: request, model: model, fingerprint: fingerprint).json)
        }
        let enabled = #"{"type":"enabled","budget_tokens":1024}"#
        #expect(try answer(enabled, betas: []).first?["type"] == "text")
        #expect(try answer(enabled, betas: ["interleaved-thinking-2025-05-14"]).first?["type"] == "thinking")
        #expect(try answer(#"{"type":"adaptive"}"#, betas: []).first?["type"] == "thinking")
    }

    @Test func moreEffortThinksLonger() throws {
        func thinkingLength(_ effort: String) throws -> Int {
            try (0..<12).map { i in
                let message = try synthesize(
                    request(
                        #","thinking":{"type":"adaptive"},"output_config":{"effort":"\#(effort)"}"#, prompt: "Plan \(i)", maxTokens: 8000)
                ).message
                return blocks(message).first?["thinking"]?.stringValue?.count ?? 0
            }.reduce(0, +)
        }
        #expect(try thinkingLength("low") < thinkingLength("high"))
        #expect(try thinkingLength("high") < thinkingLength("max"))
    }

    @Test func answersThePersonsWordsNotTheSystemReminders() throws {
        let body =
            #"{"model":"claude-sonnet-4-5","max_tokens":300,"messages":[{"role":"system","content":"cwd: /tmp/x"},{"role":"user","content":[{"type":"text","text":"<system-reminder>\nToday's date is 2026-12-01.\n</system-reminder>"},{"type":"text","text":"<system-reminder>skills</system-reminder>\nExplain cassettes"}]}]}"#
        let (message, request) = try synthesize(body)
        #expect(request.lastUserText == "Explain cassettes")
        #expect(text(message).contains("cassettes"))
        #expect(!text(message).contains("system-reminder"))
    }

    static let schemas: [String] = [
        #"{"type":"object","properties":{"a":{"type":"object","properties":{"b":{"type":"array","items":{"type":"object","properties":{"c":{"type":"integer","minimum":10,"maximum":12}},"required":["c"]},"minItems":2,"maxItems":4}},"required":["b"]}},"required":["a"]}"#,
        #"{"type":"object","properties":{"tags":{"type":"array","items":{"type":"string","enum":["x","y","z"]},"uniqueItems":true,"minItems":2}},"required":["tags"]}"#,
        #"{"type":"object","properties":{"n":{"type":"number","exclusiveMinimum":0,"exclusiveMaximum":1},"m":{"type":"integer","multipleOf":5,"minimum":7,"maximum":40}},"required":["n","m"]}"#,
        #"{"type":"object","properties":{"s":{"type":"string","minLength":12,"maxLength":14},"d":{"type":"string","format":"date"},"opt":{"type":["string","null"]}},"required":["s","d","opt"]}"#,
        ##"{"type":"object","$defs":{"pt":{"type":"object","properties":{"x":{"type":"number"},"y":{"type":"number"}},"required":["x","y"]}},"properties":{"p":{"$ref":"#/$defs/pt"},"q":{"anyOf":[{"type":"null"},{"$ref":"#/$defs/pt"}]}},"required":["p","q"]}"##,
        #"{"type":"object","properties":{"k":{"const":"fixed"},"b":{"type":"boolean"},"e":{"allOf":[{"type":"object","properties":{"u":{"type":"string"}},"required":["u"]},{"properties":{"v":{"type":"integer"}},"required":["v"]}]}},"required":["k","b","e"],"additionalProperties":false}"#,
    ]

    @Test(arguments: schemas)
    func toolInputsValidateAgainstTheirSchemas(_ schemaText: String) throws {
        let schema = try JSONParser.parse(schemaText)
        for seed in 0..<25 as Range<UInt64> {
            var instance = SchemaInstance(schema: schema, seed: seed)
            let value = instance.make()
            #expect(violation(of: value, against: schema) == nil, "seed \(seed): \(value)")
        }
    }

    @Test func countsTokensDeterministically() {
        #expect(TokenEstimator.count("") == 0)
        #expect(TokenEstimator.count("hello") == 1)
        #expect(TokenEstimator.count("hello, world!") == 4)
        #expect(TokenEstimator.count("internationalization") == 4)
        #expect(TokenEstimator.count("日本語") == 3)
    }
}

@Suite("Hostile tool schemas stay cheap")
struct HostileSchemaTests {
    @Test(arguments: [
        #"{"type":"integer","minimum":1e19}"#,
        #"{"type":"integer","minimum":-9e18,"maximum":9e18}"#,
        #"{"type":"integer","minimum":-1.7e308,"maximum":1.7e308,"multipleOf":7}"#,
        #"{"type":"number","minimum":-1.7e308,"maximum":1.7e308}"#,
        #"{"type":"string","maxLength":-1}"#,
        #"{"type":"string","minLength":1000000000}"#,
        #"{"type":"array","minItems":4611686018427387904}"#,
        #"{"type":"array","minItems":1000000000}"#,
        #"{"type":"object","minProperties":1000000000}"#,
    ])
    func boundedValues(schema: String) throws {
        let parsed = try JSONParser.parse(schema)
        var instance = SchemaInstance(schema: parsed, seed: 42)
        let value = instance.make()
        let size = JSONWriter.bytes(value).count
        #expect(size < 300_000, "\(schema) gave \(size) bytes")
        if case .number(let n) = value { #expect(n.doubleValue.isFinite) }
    }

    @Test func nestedArraysShareOneBudget() throws {
        var schema: JSONValue = ["type": "string"]
        for _ in 0..<20 { schema = ["type": "array", "items": schema, "minItems": 3] }
        var instance = SchemaInstance(schema: schema, seed: 1)
        let bytes = JSONWriter.bytes(instance.make())
        #expect(bytes.count < 200_000)
    }

    /// Two required children that refer back to their parent: without a budget on every path this doubles
    /// down to the depth limit (2^24 values, seconds and a gigabyte from 148 bytes).
    @Test func recursiveReferencesStopAtTheBudget() throws {
        let schema = try JSONParser.parse(
            ##"{"$defs":{"a":{"type":"object","properties":{"x":{"$ref":"#/$defs/a"},"y":{"$ref":"#/$defs/a"}},"required":["x","y"]}},"$ref":"#/$defs/a"}"##
        )
        var instance = SchemaInstance(schema: schema, seed: 3)
        let value = instance.make()
        func count(_ v: JSONValue) -> Int {
            switch v {
            case .object(let o): 1 + o.reduce(0) { $0 + count($1.value) }
            case .array(let a): 1 + a.reduce(0) { $0 + count($1) }
            default: 1
            }
        }
        // The 2,000-value budget, plus one leaf for each required child of the last values that branched.
        #expect(count(value) <= 6_000, "\(count(value)) values")
        #expect(value["x"]?["y"] != nil, "required members are still there")
    }

    @Test func wideSchemasKeepEveryRequiredPropertyAndStayLinear() throws {
        let names = (0..<60_000).map { "p\($0)" }
        let properties = JSONObject(names.map { ($0, ["type": "string"] as JSONValue) })
        let schema: JSONValue = ["type": "object", "properties": .object(properties), "required": .array(names.map(JSONValue.string))]
        var instance = SchemaInstance(schema: schema, seed: 9)
        let value = try #require(instance.make().objectValue)
        #expect(value.count == 60_000)
        #expect(value["p59999"] != nil && value["p0"] != nil)
    }

    @Test func thousandsOfStopSequencesCutLikeOne() throws {
        let many = (0..<20_000).map { "\"zz\($0)zz\"" }.joined(separator: ",")
        let (few, _) = try synthesize(
            #"{"model":"claude-sonnet-4-5","max_tokens":200,"stop_sequences":["STOP"],"messages":[{"role":"user","content":"hi"}]}"#)
        let (lots, _) = try synthesize(
            #"{"model":"claude-sonnet-4-5","max_tokens":200,"stop_sequences":["STOP",\#(many)],"messages":[{"role":"user","content":"hi"}]}"#
        )
        #expect(lots["stop_reason"] == few["stop_reason"])
        #expect(lots["stop_sequence"] == "STOP")
    }
}

@Suite("Strings from patterns")
struct PatternStringTests {
    @Test(arguments: [
        "^[A-Z]{3}$", #"^\d{3}-\d{4}$"#, "^(foo|bar)+baz?$", "^[a-z0-9_-]{3,16}$", #"^[^@\s]+@[^@\s]+\.[a-z]{2,}$"#,
        "^#[0-9a-fA-F]{6}$", #"^(?:[01]\d|2[0-3]):[0-5]\d$"#, #"^\w+\.json$"#, "ab*c+?d{2,}", "^$",
    ])
    func writesAStringThePatternMatches(_ pattern: String) throws {
        let regex = try Regex(pattern)
        for seed in 0..<20 {
            var random = SeededGenerator(seed: UInt64(seed))
            let text = try #require(PatternString.make(pattern, random: &random), "\(pattern)")
            #expect(try regex.firstMatch(in: text) != nil, "\(pattern) → \(text)")
        }
    }

    @Test func patternsOutsideTheSubsetFallBackAndHugeRepeatsStayBounded() throws {
        var random = SeededGenerator(seed: 1)
        #expect(PatternString.make("(?=x)y", random: &random) == nil)
        #expect(PatternString.make(#"(a)\1"#, random: &random) == nil)
        #expect(PatternString.make("[z-a]", random: &random) == nil)
        #expect((PatternString.make("a{1000000000}", random: &random)?.count ?? 0) <= PatternString.maxLength)
        // Hostile bounds neither overflow nor count below zero.
        #expect((PatternString.make("a{9223372036854775807,}", random: &random)?.count ?? 0) <= PatternString.maxLength)
        #expect(PatternString.make("a{-3}", random: &random) == nil)
        #expect(
            PatternString.make(String(repeating: "(", count: 100_000) + "a" + String(repeating: ")", count: 100_000), random: &random)
                == nil)
        #expect(PatternString.make("((((a))))", random: &random) == "a")
        #expect(PatternString.make("a{5,2}", random: &random) == nil)
        #expect(PatternString.make("a{2,9223372036854775807}", random: &random) != nil)
        // In a schema, a pattern outside the subset still gives a string.
        var instance = SchemaInstance(schema: ["type": "string", "pattern": "(?<=x)y"], seed: 3)
        #expect(instance.make().stringValue != nil)
        var strict = SchemaInstance(schema: ["type": "string", "pattern": "^[A-Z]{3}$"], seed: 3)
        #expect(try Regex("^[A-Z]{3}$").wholeMatch(in: strict.make().stringValue ?? "") != nil)
    }
}

@Suite("Token pieces")
struct TokenPiecesTests {
    @Test(arguments: [
        "Here is a short answer: you asked about \"tapes\". The first step keeps the answer clear.",
        #"{"name":"Grace Hopper","population":40,"tags":["lima kilo","tango echo"]}"#,
        "  leading and trailing  \t tabs\nand newlines\u{0B}\u{0C} supercalifragilistic_words_with_underscores 12345678901",
        "a,b;c!!d??", "", " ", "x",
    ])
    func bytesSplitASCIILikeCharacters(_ text: String) {
        #expect(TextComposer.asciiPieces(of: text) == TextComposer.characterPieces(of: text))
        #expect(TextComposer.pieces(of: text).joined() == text)
    }

    @Test func otherTextTakesTheCharacterPath() {
        for text in ["crème brûlée\r\nnext", "東京 and 🎉"] {
            #expect(TextComposer.pieces(of: text) == TextComposer.characterPieces(of: text))
            #expect(TextComposer.pieces(of: text).joined() == text)
        }
    }
}
