import Foundation
import MessagesAPI
import Mustache

/// The inspector's Mustache templates and static files, loaded once at start-up from the package resources
/// (`Resources/Inspector/`, copied into the `tapedeck_TapedeckServer.resources` bundle beside the executable).
///
/// Loading checks everything a page could need, so a missing or broken file stops `tapedeck serve` at start-up
/// with a ``ConfigurationError`` that names it, never a blank or half page later: every ``Inspector/Template``
/// must be there and parse, every partial a template names must exist, and the static files must be plain text.
///
/// The stylesheet and the script are inlined into each page as the partials `stylesheet` and `script` rather than
/// served by a route of their own: a page is then one request that works offline, needs no cache headers, and
/// needs no second request that would have to carry `?token=` when the admin API has a token.
struct InspectorTemplates: Sendable {
    private let library: MustacheLibrary

    /// Static files of the resources folder, and the partial name each is inlined as.
    static let staticFiles = [(file: "inspector.css", partial: "stylesheet"), (file: "inspector.js", partial: "script")]

    /// The templates shipped in the package's resource bundle.
    ///
    /// SwiftPM's `Bundle.module` stops the process when the bundle is neither beside the executable nor in the build
    /// folder (its message names both paths): an install must copy `tapedeck_TapedeckServer.resources` next to the
    /// binary, as the Dockerfile does.
    static func loadBundled() async throws(ConfigurationError) -> InspectorTemplates {
        guard let folder = Bundle.module.url(forResource: "Inspector", withExtension: nil) else {
            throw ConfigurationError(
                .brokenInspectorTemplates, "the inspector's templates are missing: no Inspector folder in \(Bundle.module.bundlePath)")
        }
        return try await load(from: folder)
    }

    /// The templates in `folder` (its `*.mustache` files, named after the file less the extension) and its static files.
    static func load(from folder: URL) async throws(ConfigurationError) -> InspectorTemplates {
        func failure(_ text: String) -> ConfigurationError {
            ConfigurationError(.brokenInspectorTemplates, "inspector templates in \(folder.path): \(text)")
        }
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isFolder), isFolder.boolValue else {
            throw failure("no such folder")
        }
        var library: MustacheLibrary
        do {
            library = try await MustacheLibrary(directory: folder.path)
        } catch let error as MustacheLibrary.ParserError {
            let line = error.context.line.isEmpty ? "" : " in `\(error.context.line)`"
            let position = "line \(error.context.lineNumber), column \(error.context.columnNumber)"
            throw failure("\(error.filename), \(position): \(error.error)\(line)")
        } catch {
            throw failure("\(error)")
        }
        var known = Set(Inspector.Template.allCases.map(\.rawValue))
        for (file, partial) in staticFiles {
            guard let data = FileManager.default.contents(atPath: folder.appendingPathComponent(file).path) else {
                throw failure("\(file) is missing")
            }
            let text = String(decoding: data, as: UTF8.self)
            // A static file is text: made into a partial, it must render as itself (no {{tags}} in it).
            guard let template = try? MustacheTemplate(string: text), template.render([String: String]()) == text else {
                throw failure("\(file) contains Mustache tags; a static file must be plain text")
            }
            library.register(template, named: partial)
            known.insert(partial)
        }
        for name in Inspector.Template.allCases.map(\.rawValue) {
            guard let template = library.getTemplate(named: name) else { throw failure("\(name).mustache is missing") }
            for partial in partials(in: template.description) where !known.contains(partial) {
                throw failure("\(name).mustache uses the partial \(partial), which is neither a template nor a static file")
            }
        }
        return InspectorTemplates(library: library)
    }

    /// The names a template includes (`{{>name}}`) or extends (`{{<name}}`).
    static func partials(in text: String) -> [String] {
        text.matches(of: #/\{\{\s*[<>]\s*([^\s}]+)\s*\}\}/#).map { String($0.output.1) }
    }

    /// A page as HTML: its content's template, inside the layout.
    func render<Content: Inspector.View>(_ page: Inspector.Page<Content>) throws(APIError) -> String {
        guard let html = library.render(page, withTemplate: Content.template.rawValue) else {
            // Not reached: loading checked that every template is there.
            throw .api("The inspector has no \(Content.template.rawValue) template.")
        }
        return html
    }
}
