import ArgumentParser
import Foundation
import Kafka
import Logging
import ProcessSupport
import ServiceLifecycle
import UsageAPI
import UsagePriceBooks

struct APICommand: AsyncParsableCommand, EnvironmentDefaults {
    static let configuration = CommandConfiguration(
        commandName: "api",
        abstract: "Serve the usage API (/v1/usage, /v1/usage/focus, /v1/metrics, /v1/prices, /v1/instances) and the usage page (/).",
        discussion: """
            Reads the current totals from PostgreSQL only, so it keeps answering while Kafka is down. With --brokers \
            it also reads the price books from the prices topic (every --prices-refresh-seconds, keeping the last \
            good books while Kafka is away) and answers usage with its cost; without, costs are unavailable.

            Every request needs an OIDC access token of the ferrisDX Keycloak realm: its tenant claim limits the \
            answer to that tenant, the admin role sees all. docs/openapi.yaml describes the API.
            """)

    @Option(help: "PostgreSQL URL, e.g. postgresql://user@host:5432/db (env FERRIS_DATABASE_URL).")
    var databaseURL: String?

    @Option(help: "The current-totals view: the topology's sinks.table (env FERRIS_TOTALS_TABLE).")
    var table: String?

    @Option(help: "Address to listen on.")
    var host = "0.0.0.0"

    @Option(help: "Port to listen on (env FERRIS_API_PORT).")
    var port: Int?

    @Option(help: "PostgreSQL connections (and query threads).")
    var connections = 4

    @Option(help: "Kafka bootstrap servers to read the price books from (env FERRIS_BROKERS). Without them, usage is answered without costs.")
    var brokers: String?

    @Option(help: "The compacted price book topic (env FERRIS_PRICE_TOPIC). Default: \(PriceBookTopic.defaultTopic).")
    var priceTopic: String?

    @Option(help: "Seconds between two reads of the price book topic.")
    var pricesRefreshSeconds = 30

    @Option(name: .customLong("kafka"),
            help: "A librdkafka property name=value for reading the prices, repeatable (e.g. security.protocol=SASL_SSL; env FERRIS_KAFKA_SECURITY_PROTOCOL=SASL_SSL).")
    var kafkaProperties: [String] = []

    /// How requests are authenticated.
    enum Authentication: String, ExpressibleByArgument, CaseIterable, Sendable {
        /// Bearer tokens checked against the realm's keys.
        case oidc
        /// No token needed; every request sees every tenant.
        case off = "none"
    }

    @Option(help: "oidc (bearer tokens checked against the realm's keys), or none: no token needed, every request sees every tenant; for local use only (env FERRIS_API_AUTH). Default: oidc.")
    var auth: Authentication?

    @Option(help: "The token issuer (iss), e.g. https://keycloak.example/realms/ferris (env FERRIS_OIDC_ISSUER).")
    var issuer: String?

    @Option(help: "A value the token's audience (aud) must contain, e.g. ferris-usage (env FERRIS_OIDC_AUDIENCE).")
    var audience: String?

    @Option(help: "The realm's JWKS URL (env FERRIS_OIDC_JWKS_URL). Default: <issuer>/protocol/openid-connect/certs (Keycloak).")
    var jwksURL: String?

    @Option(help: "The claim holding the caller's tenant; dots reach into objects (env FERRIS_OIDC_TENANT_CLAIM).")
    var tenantClaim: String?

    @Option(help: "The role (realm_access.roles or resource_access.<audience>.roles) that sees every tenant (env FERRIS_OIDC_ADMIN_ROLE).")
    var adminRole: String?

    @Option(help: "Seconds the realm's keys are cached before they are fetched again (a token with an unknown key id fetches them at once).")
    var jwksCacheSeconds = 300

    @Option(help: "The cookie the usage page also reads the token from.")
    var tokenCookie = "ferris-usage-token"

    @Option(help: "After SIGTERM or SIGINT, exit after this many seconds even if requests are still being answered; a second signal exits at once.")
    var shutdownTimeoutSeconds = 25

    @OptionGroup var logging: LogOptions

    static let environmentDefaults: [EnvironmentDefault<Self>] = [
        .string("FERRIS_DATABASE_URL", \.databaseURL),
        .string("FERRIS_TOTALS_TABLE", \.table),
        .int("FERRIS_API_PORT", \.port),
        .string("FERRIS_BROKERS", \.brokers),
        .string("FERRIS_PRICE_TOPIC", \.priceTopic),
        .choice("FERRIS_API_AUTH", \.auth),
        .string("FERRIS_OIDC_ISSUER", \.issuer),
        .string("FERRIS_OIDC_AUDIENCE", \.audience),
        .string("FERRIS_OIDC_JWKS_URL", \.jwksURL),
        .string("FERRIS_OIDC_TENANT_CLAIM", \.tenantClaim),
        .string("FERRIS_OIDC_ADMIN_ROLE", \.adminRole),
    ]

    func run() async throws {
        let logger = logging.makeLogger(label: "ferris-usage.api")
        guard let databaseURL else {
            throw CLIError("no database: pass --database-url postgresql://... or set FERRIS_DATABASE_URL")
        }
        var configuration = UsageAPIConfiguration(databaseURL: databaseURL, oidc: try oidc())
        configuration.table = table ?? configuration.table
        configuration.host = host
        configuration.port = port ?? configuration.port
        configuration.connections = connections
        configuration.tokenCookie = tokenCookie
        if let brokers {
            guard pricesRefreshSeconds > 0 else { throw CLIError("--prices-refresh-seconds must be positive") }
            var kafka = KafkaConfiguration(try ConnectionOptions.kafkaProperties(flags: kafkaProperties))
            kafka["bootstrap.servers"] = brokers
            var prices = PriceBookSource(kafka: kafka)
            prices.topic = priceTopic ?? prices.topic
            prices.refreshInterval = .seconds(pricesRefreshSeconds)
            configuration.prices = prices
        }
        let server = try UsageAPIServer.make(configuration, logger: logger)
        logger.info("usage API listening", metadata: ["address": "\(host):\(configuration.port)", "table": "\(configuration.table)",
                                                      "auth": "\(configuration.oidc == nil ? "none" : "oidc")",
                                                      "prices": "\(configuration.prices.map { "\($0.topic) on \(brokers ?? "")" } ?? "none (no --brokers)")"])
        try await ProcessServices.run([server], shutdownTimeout: .seconds(shutdownTimeoutSeconds), logger: logger)
    }

    private func oidc() throws -> OIDCConfiguration? {
        switch auth ?? .oidc {
        case .off:
            return nil
        case .oidc:
            guard let issuer else {
                throw CLIError("no token issuer: pass --issuer https://<keycloak>/realms/<realm> or set FERRIS_OIDC_ISSUER (or --auth none for local use)")
            }
            guard let audience else {
                throw CLIError("no audience: pass --audience (the client id tokens are issued for) or set FERRIS_OIDC_AUDIENCE")
            }
            let jwks = jwksURL ?? issuer + "/protocol/openid-connect/certs"
            guard let url = URL(string: jwks), url.scheme == "https" || url.scheme == "http" else {
                throw CLIError("--jwks-url '\(jwks)' is not an http(s) URL")
            }
            guard jwksCacheSeconds > 0 else { throw CLIError("--jwks-cache-seconds must be positive") }
            var oidc = OIDCConfiguration(jwksURL: url, issuer: issuer, audience: audience)
            oidc.tenantClaim = tenantClaim ?? oidc.tenantClaim
            oidc.adminRole = adminRole ?? oidc.adminRole
            oidc.keyCacheTimeToLive = .seconds(jwksCacheSeconds)
            return oidc
        }
    }
}
