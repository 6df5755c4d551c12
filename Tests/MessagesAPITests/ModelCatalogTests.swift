import MessagesAPI
import Testing

@Suite("Model catalog: generated from the SDK, models files, inference, learning")
struct ModelCatalogTests {
    @Test(arguments: ModelCatalog.sdkModelIDs)
    func everySDKModelIDIsInTheBuiltInCatalog(_ id: String) throws {
        let model = try #require(ModelCatalog.standard.known(named: id), "the SDK's \(id)")
        #expect(!model.isInferred)
        #expect(model.id == id || model.aliases.contains(id))
    }

    @Test func theSDKListIsTheOneTheIssueNamed() {
        // anthropic 2.10.0 lists 22 ids; these were 404s before the catalog was generated from it.
        #expect(ModelCatalog.sdkModelIDs.count == 22)
        for id in ["claude-opus-5", "claude-sonnet-5-5", "claude-haiku-5-5", "claude-opus-4-8", "claude-sonnet-4-6", "claude-opus-5-5"] {
            #expect(ModelCatalog.sdkModelIDs.contains(id))
        }
    }

    @Test func deprecationsComeFromTheSDKNotTheClock() throws {
        let sonnet = try #require(ModelCatalog.standard.known(named: "claude-sonnet-4-5"))
        #expect(sonnet.id == "claude-sonnet-4-5-20250929")
        #expect(sonnet.lifecycle == .deprecated)
        #expect(sonnet.retiresAt == "2026-11-30T00:00:00Z")
        #expect(sonnet.json["lifecycle"] == "deprecated")
        #expect(sonnet.json["retires_at"] == "2026-11-30T00:00:00Z")
        // Its retirement date has passed; only the SDK's data decides the lifecycle, so it stays deprecated.
        let preview = try #require(ModelCatalog.standard.known(named: "claude-mythos-preview"))
        #expect(preview.lifecycle == .deprecated)
        #expect(preview.retiresAt == "2026-06-30T00:00:00Z")
        let opus = try #require(ModelCatalog.standard.known(named: "claude-opus-4-7"))
        #expect(opus.lifecycle == .active)
        #expect(opus.json["retires_at"] == .null)
    }

    @Test func knownMetadataDatedIDsAliasesAndGatewaysSurvive() throws {
        let catalog = ModelCatalog.standard
        #expect(catalog.known(named: "claude-opus-4-7")?.maxOutputTokens == 128_000)
        #expect(catalog.known(named: "claude-opus-4-7")?.supportsPrefill == false)
        #expect(catalog.known(named: "claude-opus-4-5")?.id == "claude-opus-4-5-20251101")
        #expect(catalog.known(named: "claude-3-5-haiku-latest")?.supportsThinking == false)
        #expect(catalog.known(named: "claude-3-7-sonnet-20250219")?.requiresUserFirst == true)
        #expect(catalog.known(named: "kimi-k2.6")?.maxInputTokens == 262_144)
        #expect(catalog.known(named: "deepseek-v4-pro") != nil)
        // A derived SDK model takes its line's newest known model's limits.
        let derived = try #require(catalog.known(named: "claude-opus-5-5"))
        #expect(derived.displayName == "Claude Opus 5.5")
        #expect(derived.line == "opus")
        #expect(derived.maxOutputTokens == 128_000)
        #expect(derived.supportsPrefill == false)
        #expect(derived.createdAt == ModelInfo.unknownCreatedAt)
        #expect(Set(catalog.models.map(\.id)).count == catalog.models.count, "no id listed twice")
    }

    @Test func unknownClaudeIDsAreInferredUnlessStrict() throws {
        #expect(ModelCatalog.standard.model(named: "claude-opus-9") == nil, "the built-in catalog alone is strict")
        let lenient = ModelCatalog.standard.inferring(true)
        let opus = try #require(lenient.model(named: "claude-opus-9-1"))
        #expect(opus.isInferred)
        #expect(opus.id == "claude-opus-9-1")
        #expect(opus.displayName == "Claude Opus 9.1")
        #expect(opus.line == "opus")
        #expect(opus.maxOutputTokens == 128_000)
        let noLine = try #require(lenient.model(named: "claude-nova-2"))
        #expect(noLine.line == nil)
        #expect(noLine.maxOutputTokens == ModelInfo.generousOutputTokens)
        #expect(noLine.supportsPrefill)
        #expect(lenient.model(named: "gpt-5") == nil)
        #expect(lenient.model(named: "claude-") == nil)
        #expect(lenient.model(named: "claude-opus 9") == nil)
        #expect(lenient.models.count == ModelCatalog.standard.models.count, "inference adds nothing to the list")
    }

    @Test(arguments: [
        ("claude-opus-5-5", "Claude Opus 5.5"), ("claude-mythos-preview", "Claude Mythos Preview"),
        ("claude-haiku-4-5-20251001", "Claude Haiku 4.5"), ("claude-3-7-sonnet", "Claude 3.7 Sonnet"),
        ("claude-sonnet-5", "Claude Sonnet 5"),
    ])
    func displayNamesFromIDs(_ id: String, _ name: String) {
        #expect(ModelInfo.displayName(of: id) == name)
    }

    @Test func modelObjectsAddOrReplaceEntries() throws {
        let json = try JSONParser.parse(
            Array(
                #"{"data":[{"id":"claude-opus-4-7","display_name":"Opus, retold","max_tokens":1000,"lifecycle":"deprecated"},{"id":"my-gateway-model","aliases":["mine"],"max_tokens":2048,"supports_prefill":false,"extra":"kept"}]}"#
                    .utf8))
        let models = try ModelInfo.models(in: json, knowing: ModelCatalog.standard.models)
        let catalog = ModelCatalog.standard.adding(models)
        #expect(catalog.models.count == ModelCatalog.standard.models.count + 1)
        #expect(catalog.models.first?.id == "my-gateway-model", "new models go in front")
        let replaced = try #require(catalog.known(named: "claude-opus-4-7"))
        #expect(replaced.displayName == "Opus, retold")
        #expect(replaced.maxOutputTokens == 1000)
        #expect(replaced.lifecycle == .deprecated)
        #expect(
            catalog.models.firstIndex { $0.id == "claude-opus-4-7" }
                == ModelCatalog.standard.models.firstIndex { $0.id == "claude-opus-4-7" }.map { $0 + 1 })
        let mine = try #require(catalog.known(named: "mine"))
        #expect(mine.id == "my-gateway-model")
        #expect(!mine.supportsPrefill)
        #expect(mine.json["extra"] == "kept", "a given object is served as given")
        #expect(mine.json["aliases"] == nil, "Tapedeck's own keys are never served")
        #expect(mine.json["max_tokens"] == 2048)
    }

    @Test(arguments: [
        (#"{"models":[]}"#, "expected a list of model objects"), (#"[{"display_name":"x"}]"#, "model 0: a model needs an \"id\" string"),
        (#"[{"id":"m","max_tokens":"big"}]"#, "model 0: m: \"max_tokens\" must be a positive integer"),
        (#"[{"id":"m","lifecycle":"gone"}]"#, "model 0: m: \"lifecycle\" must be active, deprecated or retired"),
        ("[3]", "model 0: expected a model object"),
    ])
    func badModelObjectsSayWhatIsWrong(_ text: String, _ problem: String) throws {
        let json = try JSONParser.parse(Array(text.utf8))
        #expect {
            _ = try ModelInfo.models(in: json, knowing: [])
        } throws: { error in
            (error as? ModelInfo.ReadError)?.description.hasPrefix(problem) == true
        }
    }

    @Test func theRegistryLearnsFromAnswers() throws {
        let registry = ModelRegistry(.standard)
        let list = try JSONParser.parse(Array(#"{"data":[{"id":"upstream-only-1","max_tokens":777}],"has_more":false}"#.utf8))
        #expect(registry.learn(fromAnswerTo: "/v1/models", status: 200, body: list) == ["upstream-only-1"])
        #expect(registry.catalog.known(named: "upstream-only-1")?.maxOutputTokens == 777)
        #expect(registry.learn(fromAnswerTo: "/v1/models", status: 200, body: list) == [], "learning twice changes nothing")
        let message: JSONValue = ["type": "message", "model": "claude-sonnet-9-20300101"]
        #expect(registry.learn(fromAnswerTo: "/v1/messages", status: 200, body: message) == ["claude-sonnet-9-20300101"])
        let learned = try #require(registry.catalog.known(named: "claude-sonnet-9-20300101"))
        #expect(!learned.isInferred, "a model the upstream answered as is known, not guessed")
        #expect(learned.line == "sonnet")
        #expect(registry.learn(fromAnswerTo: "/v1/messages", status: 200, body: ["model": "claude-sonnet-4-5-20250929"]) == [])
        let other: JSONValue = ["data": [["id": "never-learned-1"]]]
        #expect(registry.learn(fromAnswerTo: "/v1/models", status: 404, body: other) == [], "an error answer teaches nothing")
        #expect(registry.catalog.known(named: "never-learned-1") == nil)
        #expect(registry.learn(fromAnswerTo: "/v1/files", status: 200, body: message) == [])
    }
}
