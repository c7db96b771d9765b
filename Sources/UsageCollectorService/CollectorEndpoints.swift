import Hummingbird
import Logging

/// The collector's HTTP endpoints, as `run` has them: `GET /healthz` (liveness), `GET /readyz` (200 while the registry
/// and cursors are read, Prometheus answers, the last interval was delivered and no instance is too far behind;
/// 503 with the reason otherwise) and `GET /metrics` (`ferris_collect_*`). `docs/openapi.yaml` describes them.
public enum CollectorEndpoints {
    /// The server, a `Service` to run next to the collector in a `ServiceGroup`.
    public static func make(status: CollectorStatus, host: String, port: Int,
                            logger: Logger) -> Application<RouterResponder<BasicRequestContext>> {
        let router = Router()
        router.get("healthz") { _, _ in "ok\n" }
        router.get("readyz") { _, _ -> Response in
            let (ready, reason) = status.readiness
            return Response(status: ready ? .ok : .serviceUnavailable, headers: [.contentType: "text/plain; charset=utf-8"],
                            body: ResponseBody(byteBuffer: ByteBuffer(string: (ready ? "ready: " : "not ready: ") + reason + "\n")))
        }
        router.get("metrics") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: ResponseBody(byteBuffer: ByteBuffer(bytes: status.exposition())))
        }
        return Application(router: router, configuration: .init(address: .hostname(host, port: port), serverName: "ferris-usage-collect"),
                           logger: logger)
    }
}
