import MessagesAPI
import NIOCore
import NIOHTTP1
import Synchronization

/// Counts open connections against `--max-connections`.
final class ConnectionLimiter: Sendable {
    let limit: Int
    private let open = Atomic<Int>(0)

    init(limit: Int) { self.limit = limit }

    /// Counts a new connection; `false` when it is one too many.
    func admit() -> Bool { open.wrappingAdd(1, ordering: .relaxed).newValue <= limit }

    func release() { open.wrappingSubtract(1, ordering: .relaxed) }

    var current: Int { open.load(ordering: .relaxed) }
}

/// Hummingbird adds its extra handlers after the HTTP/1 codec, where requests no longer carry their HTTP
/// version. This one moves `HTTP1ConnectionGuard` in front of the codec, then removes itself.
final class ConnectionGuardInstaller: ChannelInboundHandler, RemovableChannelHandler {
    /// Never reads anything itself: it is gone before the first byte arrives.
    typealias InboundIn = NIOAny
    let limiter: ConnectionLimiter

    init(limiter: ConnectionLimiter) { self.limiter = limiter }

    func handlerAdded(context: ChannelHandlerContext) {
        let operations = context.pipeline.syncOperations
        let guardHandler = HTTP1ConnectionGuard(limiter: limiter)
        do {
            let decoder = try operations.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            try operations.addHandler(guardHandler, position: .after(decoder))
        } catch {
            // Without the decoder there is no HTTP/1 here to guard; close rather than serve unguarded.
            context.close(promise: nil)
        }
        operations.removeHandler(context: context, promise: nil)
    }
}

/// Per connection, before the HTTP/1 codec:
/// - beyond `--max-connections`, answers the first request with a 529 in the API's envelope and closes;
/// - an HTTP/1.0 request without `Connection: keep-alive` is marked `Connection: close`, so the server closes
///   after answering it, as HTTP/1.0 clients that read to the end of the connection expect.
/// - a client that closes its side (FIN) while an upstream call made for it is in flight has given up: the
///   connection is closed, which cancels that call (as proxies in front of the real API treat a client abort).
///   Otherwise a half-close is passed on as before, and a half-closed client still gets its answer.
/// - paced stream bodies are written from here, on the connection's loop (`ConnectionOutlet`).
final class HTTP1ConnectionGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let limiter: ConnectionLimiter
    private var admitted = false
    private var refused = false
    /// A request's head has been passed on and its end not yet: errors then belong to that request's handler.
    private var requestInFlight = false
    /// What the upstream calls made for this connection's requests watch, and its paced bodies write through.
    private var client: ClientConnection?

    init(limiter: ConnectionLimiter) { self.limiter = limiter }

    func handlerAdded(context: ChannelHandlerContext) {
        admitted = limiter.admit()
        let client = ClientConnection(outlet: ConnectionOutlet(context: context))
        self.client = client
        ClientConnection.register(client, for: context.channel)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        limiter.release()
        client?.outlet?.close()
        ClientConnection.unregister(context.channel)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var part = unwrapInboundIn(data)
        guard admitted else {
            if case .head = part, !refused { refuse(context: context) }
            return
        }
        switch part {
        case .head(var head):
            requestInFlight = true
            if head.version.major == 1, head.version.minor == 0, !head.isKeepAlive {
                head.headers.replaceOrAdd(name: "connection", value: "close")
                part = .head(head)
            }
        case .end:
            requestInFlight = false
        case .body:
            break
        }
        context.fireChannelRead(wrapInboundOut(part))
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed, client?.isAwaitingUpstream == true {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        context.fireChannelWritabilityChanged()
        if context.channel.isWritable { client?.outlet?.writable() }
    }

    func channelInactive(context: ChannelHandlerContext) {
        client?.markClosed()
        client?.outlet?.close()
        context.fireChannelInactive()
    }

    /// Bytes that are not HTTP (a TLS hello, headers over the 80 KB limit) get the API's envelope, not an empty 400.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parseError = error as? HTTPParserError, !requestInFlight, !refused else {
            context.fireErrorCaught(error)
            return
        }
        let message: String
        switch parseError {
        case .headerOverflow: message = "Request headers are too large (the limit is 80 KB in all)."
        default: message = "Malformed HTTP request: this server speaks HTTP/1.1 (\(parseError))."
        }
        refuse(context: context, with: .invalidRequest(message))
    }

    private func refuse(context: ChannelHandlerContext) {
        refuse(
            context: context,
            with: APIError(
                status: 529, type: "overloaded_error",
                message: "Tapedeck is serving its limit of \(limiter.limit) connections (--max-connections); try again shortly."))
    }

    /// Answers with `error` in the envelope, straight from the channel, and closes the connection.
    private func refuse(context: ChannelHandlerContext, with error: APIError) {
        refused = true
        let requestID = error.requestID
        let body = JSONWriter.bytes(error.body(requestID: requestID))
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/json")
        headers.add(name: "content-length", value: "\(body.count)")
        headers.add(name: "request-id", value: requestID)
        headers.add(name: "connection", value: "close")
        headers.add(name: HeaderPolicy.sourceHeader, value: "tapedeck")
        let head = HTTPResponseHead(version: .http1_1, status: .init(statusCode: error.status), headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }
}
