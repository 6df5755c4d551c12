import Hummingbird
import MessagesAPI

extension AdminController {
    /// `GET /_tapedeck/batches` (and the inspector's `/_tapedeck/ui/batches`): the batches Tapedeck made for a cassette and keeps in memory, most recent first,
    /// with their requests' `custom_id`s (a batch the upstream made is a recorded interaction, listed with those).
    func addBatchRoutes(to router: Router<TapedeckRequestContext>, book: BatchBook) {
        let admin = router.group().add(middleware: AdminTokenMiddleware(token: pipeline.configuration.adminToken))
        admin.on(.adminBatches, .get) { request, context in
            let name = try Self.cassetteName(request) ?? Shelf.defaultName
            let base = BatchRoutes.base(request, context)
            let data = book.newestFirst(in: name).map { batch -> JSONValue in
                guard case .object(var object) = batch.json(resultsBase: base) else { return .null }
                object["custom_ids"] = .array(batch.customIDs.map(JSONValue.string))
                return .object(object)
            }
            return Self.json(["cassette": .string(name), "data": .array(data)])
        }
        admin.on(.inspectorBatches, .get) { request, _ in
            let context = Self.inspectorContext(request)
            let batches = book.newestFirst(in: try Self.cassetteName(request) ?? Shelf.defaultName)
            return Self.html(
                try inspector.render(
                    Inspector.page(title: "Batches", context: context, active: "Batches", content: Inspector.batches(batches))))
        }
    }
}
