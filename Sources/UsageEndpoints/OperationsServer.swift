import Hummingbird
import Logging
import UsageService

/// The HTTP endpoints of a running service, for Kubernetes probes and Prometheus:
///
/// - `GET /healthz`: 200 while the process serves requests (liveness);
/// - `GET /readyz`: 200 while the accounting loop comes round, has joined its group and no assigned partition with
///   records to read stood still for `stallAfter`; 503 with the reason otherwise;
/// - `GET /metrics`: the Prometheus exposition of `PipelineMetrics`.
///
/// `docs/openapi.yaml` describes them.
public enum OperationsServer {
    /// The server, a `Service` to run next to the pipeline in a `ServiceGroup`.
    public static func make(pipeline: UsagePipeline, host: String, port: Int, stallAfter: Duration = .seconds(30),
                            logger: Logger) -> Application<RouterResponder<BasicRequestContext>> {
        let metrics = PipelineMetrics(pipeline: pipeline, stallAfter: stallAfter)
        let router = Router()
        router.get("healthz") { _, _ in "ok\n" }
        router.get("readyz") { _, _ -> Response in
            let (ready, reason) = pipeline.counters.health.readiness(now: .now, stallAfter: stallAfter)
            return Response(status: ready ? .ok : .serviceUnavailable, headers: [.contentType: "text/plain; charset=utf-8"],
                            body: ResponseBody(byteBuffer: ByteBuffer(string: (ready ? "ready: " : "not ready: ") + reason + "\n")))
        }
        router.get("metrics") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: ResponseBody(byteBuffer: ByteBuffer(bytes: metrics.exposition())))
        }
        return Application(router: router, configuration: .init(address: .hostname(host, port: port), serverName: "ferris-usage"),
                           logger: logger)
    }
}
