import Hummingbird
import Logging

/// The HTTP endpoints every long-running command serves, for Kubernetes probes and Prometheus:
///
/// - `GET /healthz`: 200 while the process serves requests (liveness);
/// - `GET /readyz`: 200 with the reason while `readiness` says ready, 503 with the reason otherwise;
/// - `GET /metrics`: the Prometheus text exposition (format 0.0.4) `metrics` returns.
///
/// `docs/openapi.yaml` describes them.
public enum ProbesServer {
    /// The routes, for the server and for in-process tests (`HummingbirdTesting`).
    public static func router(readiness: @escaping @Sendable () -> Readiness,
                              metrics: @escaping @Sendable () -> [UInt8]) -> Router<BasicRequestContext> {
        let router = Router()
        router.get("healthz") { _, _ in "ok\n" }
        router.get("readyz") { _, _ -> Response in
            let answer = readiness()
            return Response(status: answer.ready ? .ok : .serviceUnavailable, headers: [.contentType: "text/plain; charset=utf-8"],
                            body: ResponseBody(byteBuffer: ByteBuffer(string: answer.body)))
        }
        router.get("metrics") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: ResponseBody(byteBuffer: ByteBuffer(bytes: metrics())))
        }
        return router
    }

    /// The server on `host`:`port`, a `Service` to run next to the process's other services in `ProcessServices.run`.
    public static func make(host: String, port: Int, serverName: String, readiness: @escaping @Sendable () -> Readiness,
                            metrics: @escaping @Sendable () -> [UInt8],
                            logger: Logger) -> Application<RouterResponder<BasicRequestContext>> {
        Application(router: router(readiness: readiness, metrics: metrics),
                    configuration: .init(address: .hostname(host, port: port), serverName: serverName), logger: logger)
    }
}
