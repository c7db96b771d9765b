import Hummingbird
import Logging
import UsageService

/// The HTTP endpoints of a running service, for Kubernetes probes and Prometheus:
///
/// - `GET /healthz`: 200 while the process serves requests (liveness);
/// - `GET /readyz`: 200 while the accounting loop comes round, has joined its group and no assigned partition with
///   records to read stood still for `stallAfter`, and no `extensions` reports a problem; 503 with the reason otherwise;
/// - `GET /metrics`: the Prometheus exposition of `PipelineMetrics` and of the `extensions`.
///
/// `docs/openapi.yaml` describes them.
public enum OperationsServer {
    /// The server, a `Service` to run next to the pipeline in a `ServiceGroup`.
    public static func make(pipeline: UsagePipeline, host: String, port: Int, stallAfter: Duration = .seconds(30),
                            extensions: [OperationsExtension] = [],
                            logger: Logger) -> Application<RouterResponder<BasicRequestContext>> {
        let metrics = PipelineMetrics(pipeline: pipeline, stallAfter: stallAfter, extensions: extensions)
        let router = Router()
        router.get("healthz") { _, _ in "ok\n" }
        router.get("readyz") { _, _ -> Response in
            var (ready, reason) = pipeline.counters.health.readiness(now: .now, stallAfter: stallAfter)
            for service in extensions {
                if let problem = service.notReadyReason() {
                    ready = false
                    reason += "; " + problem
                }
            }
            let lines = [(ready ? "ready: " : "not ready: ") + reason] + extensions.map { $0.summary() }
            return Response(status: ready ? .ok : .serviceUnavailable, headers: [.contentType: "text/plain; charset=utf-8"],
                            body: ResponseBody(byteBuffer: ByteBuffer(string: lines.joined(separator: "\n") + "\n")))
        }
        router.get("metrics") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: ResponseBody(byteBuffer: ByteBuffer(bytes: metrics.exposition())))
        }
        return Application(router: router, configuration: .init(address: .hostname(host, port: port), serverName: "ferris-usage"),
                           logger: logger)
    }
}
