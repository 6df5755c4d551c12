import Foundation
import MessagesAPI

extension ServeOptions {
    /// The built-in catalog with the models of `file` (`--models`): a file that cannot be read, or holds no
    /// model objects, stops the start-up with what is wrong and where.
    static func catalog(adding file: String) throws(Problem) -> ModelCatalog {
        let bytes: [UInt8]
        do {
            bytes = Array(try Data(contentsOf: URL(fileURLWithPath: file)))
        } catch {
            throw Problem(description: "Cannot read --models \(file): \(error.localizedDescription)")
        }
        let json: JSONValue
        do { json = try JSONParser.parse(bytes) } catch {
            throw Problem(description: "--models \(file) is not valid JSON: \(error.description)")
        }
        do {
            let models = try ModelInfo.models(in: json, knowing: ModelCatalog.standard.models)
            return ModelCatalog.standard.adding(models)
        } catch {
            throw Problem(description: "--models \(file): \(error.description)")
        }
    }
}
