import Hummingbird
import Logging
import ProcessSupport
import UsageService

/// The probes of the accounting service (`ProbesServer`):
///
/// - `GET /healthz`: 200 while the process serves requests (liveness);
/// - `GET /readyz`: 200 while the accounting loop comes round, has joined its group and no assigned partition with
///   records to read stood still for `stallAfter`, and no `extensions` reports a problem; 503 with the reason otherwise;
/// - `GET /metrics`: the Prometheus exposition of `PipelineMetrics` and of the `extensions`.
public enum OperationsServer {
    /// The server, a `Service` to run next to the pipeline.
    public static func make(pipeline: UsagePipeline, host: String, port: Int, stallAfter: Duration = .seconds(30),
                            extensions: [ProbeContributor] = [],
                            logger: Logger) -> Application<RouterResponder<BasicRequestContext>> {
        let metrics = PipelineMetrics(pipeline: pipeline, stallAfter: stallAfter, extensions: extensions)
        return ProbesServer.make(host: host, port: port, serverName: "ferris-usage", readiness: { metrics.readiness() },
                                 metrics: { metrics.exposition() }, logger: logger)
    }
}
