import Foundation
import MessagesAPI
import TapedeckCLI
import TapedeckServer
import TapedeckTestSupport
import Testing

@Suite("serve: --models and --strict-models")
struct ServeModelsOptionsTests {
    func resolve(_ arguments: [String], _ environment: [String: String] = [:]) throws -> TapedeckConfiguration {
        try Serve.parse(arguments).options.resolve(environment: environment)
    }

    @Test func aModelsFileAddsAndOverridesEntries() async throws {
        try await withTemporaryDirectory { directory in
            let file = directory.file("models.json")
            try Data(#"{"data":[{"id":"house-1","max_tokens":99},{"id":"claude-opus-4-7","display_name":"Mine"}]}"#.utf8)
                .write(to: URL(fileURLWithPath: file))
            for configuration in [try resolve(["--models", file]), try resolve([], ["TAPEDECK_MODELS": file])] {
                #expect(configuration.models.known(named: "house-1")?.maxOutputTokens == 99)
                #expect(configuration.models.known(named: "claude-opus-4-7")?.displayName == "Mine")
                #expect(configuration.models.known(named: "claude-sonnet-5-5") != nil, "the built-in entries stay")
            }
            // A bare list works as well as the API's {"data": [...]}.
            try Data(#"[{"id":"house-2"}]"#.utf8).write(to: URL(fileURLWithPath: file))
            #expect(try resolve(["--models", file]).models.known(named: "house-2") != nil)
        }
    }

    @Test func aBadModelsFileStopsTheStartUpSayingWhy() async throws {
        try await withTemporaryDirectory { directory in
            let file = directory.file("models.json")
            func problem(_ text: String?) throws -> String {
                if let text { try Data(text.utf8).write(to: URL(fileURLWithPath: file)) }
                do {
                    _ = try resolve(["--models", text == nil ? directory.file("absent.json") : file])
                    return ""
                } catch { return "\(error)" }
            }
            let (absent, notJSON) = (try problem(nil), try problem("{not json"))
            let (badField, badShape) = (try problem(#"[{"id":"m","max_tokens":-1}]"#), try problem(#"{"models":1}"#))
            #expect(absent.hasPrefix("Cannot read --models"))
            #expect(notJSON.contains("is not valid JSON"))
            #expect(badField.contains(#"model 0: m: "max_tokens" must be a positive integer"#))
            #expect(badShape.contains("expected a list of model objects"))
        }
    }

    @Test func strictModelsFromTheFlagOrTheEnvironment() throws {
        #expect(try resolve([]).strictModels == false)
        #expect(try resolve(["--strict-models"]).strictModels)
        #expect(try resolve([], ["TAPEDECK_STRICT_MODELS": "true"]).strictModels)
        #expect(try resolve([]).startingCatalog.model(named: "claude-opus-9") != nil)
        #expect(try resolve(["--strict-models"]).startingCatalog.model(named: "claude-opus-9") == nil)
    }
}
