import Foundation
import Hummingbird
import Logging
import OpenAPIHummingbird
import OpenAPIRuntime
import ServiceLifecycle
import UsageStandard

/// What `ferris-usage api` serves and how.
public struct UsageAPIConfiguration: Sendable {
    /// The PostgreSQL URL (libpq form).
    public var databaseURL: String
    /// The current-totals view (the topology's `sinks.table`).
    public var table = "usage_totals"
    /// The address to listen on.
    public var host = "0.0.0.0"
    /// The port to listen on.
    public var port = 8080
    /// PostgreSQL connections (and threads running their queries).
    public var connections = 4
    /// How tokens are checked; nil accepts every request as an administrator's (`--auth none`, local use only).
    public var oidc: OIDCConfiguration?
    /// The cookie the usage page also reads the token from.
    public var tokenCookie = "ferris-usage-token"
    /// The metrics `/v1/metrics` lists and `metric` filters must name.
    public var registry = MetricRegistry.v1
    /// Where the price books are read from; nil (no brokers): costs and `/v1/prices` are unavailable.
    public var prices: PriceBookSource?

    /// Creates a configuration.
    public init(databaseURL: String, oidc: OIDCConfiguration?) {
        self.databaseURL = databaseURL
        self.oidc = oidc
    }
}

/// The usage API server: the operations generated from `docs/openapi.yaml` (tags usage, page, probes) on a
/// Hummingbird router, behind the problem and authentication middlewares, and the background refresh of the price
/// books (when there are brokers).
public enum UsageAPIServer {
    /// The server, a `Service` (run it in a `ServiceGroup`; it stops gracefully on shutdown).
    public static func make(_ configuration: UsageAPIConfiguration, logger: Logger) throws -> some Service {
        let store = try TotalsStore(url: configuration.databaseURL, view: configuration.table,
                                    connections: configuration.connections, logger: logger)
        let authentication: Authentication
        if let oidc = configuration.oidc {
            let keys = JWKSCache(url: oidc.jwksURL, timeToLive: oidc.keyCacheTimeToLive,
                                 minimumInterval: oidc.minimumRefetchInterval, logger: logger)
            authentication = .oidc(TokenVerifier(configuration: oidc, keys: keys))
        } else {
            logger.warning("--auth none: every request is served as an administrator's, without a token. For local use only; never expose this server.")
            authentication = .none
        }
        let router = Router()
        router.add(middleware: MethodNotAllowedMiddleware(paths: ["/", "/v1/usage", "/v1/usage/focus", "/v1/metrics",
                                                                  "/v1/prices", "/v1/instances", "/healthz", "/readyz"]))
        var services: [any Service] = [StoreService(store: store)]
        let prices: PriceBooks
        if let source = configuration.prices {
            prices = PriceBooks(unavailable: "the prices topic \(source.topic) has not been read yet; try again shortly", logger: logger)
            services.append(PriceBookRefresh(source: source, books: prices, logger: logger))
        } else {
            prices = PriceBooks(unavailable: "the API has no Kafka brokers to read the price books from: start it with --brokers (or FERRIS_BROKERS)", logger: logger)
            logger.notice("no brokers: usage is answered without costs (costStatus unavailable)")
        }
        let handler = UsageHandler(store: store, registry: configuration.registry, prices: prices, logger: logger)
        try handler.registerHandlers(on: router, middlewares: [
            ProblemMiddleware(logger: logger),
            AuthenticationMiddleware(authentication: authentication, tokenCookie: configuration.tokenCookie),
        ])
        return Application(router: router,
                           configuration: .init(address: .hostname(configuration.host, port: configuration.port),
                                                serverName: "ferris-usage-api"),
                           services: services, logger: logger)
    }
}

/// Closes the store's connections when the server stops.
private struct StoreService: Service {
    let store: TotalsStore

    func run() async throws {
        try? await gracefulShutdown()
        await store.shutdown()
    }
}
