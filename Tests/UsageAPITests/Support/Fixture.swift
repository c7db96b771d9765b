import Foundation
import Kafka
import Logging
import PostgreSQL
import ProcessSupport
import ServiceLifecycle
import TestSupport
import Testing
@testable import UsageAPI
import UsagePriceBooks
import UsagePricing
import UsageService
import UsageSimulation
import UsageStandard
import UsageTopology

/// What every integration test of the API shares, made once per test process: yesterday's simulated usage of the
/// three seed scenarios accounted by the real pipeline into PostgreSQL (table of its own), the seed scenarios' price
/// book (examples/price-book.yaml) on a prices topic of its own, the test realm, and an API server over them.
struct Fixture: Sendable {
    let realm: TestRealm
    let databaseURL: String
    /// The current-totals view the pipeline wrote.
    let table: String
    /// The API's base URL.
    let api: String
    /// The simulated day, `YYYY-MM-DD`.
    let day: String
    /// The totals the simulator says the events must produce.
    let expected: ExpectedTotals

    static let shared = Task { try await Fixture.make() }

    static let logger = TestServices.logger("api-test")

    private static func make() async throws -> Fixture {
        let brokers = try TestServices.brokers
        let databaseURL = try TestServices.databaseURL
        let id = "api_\(UInt32.random(in: 0...UInt32.max))_\(getpid())"
        let now = WallClock.milliseconds()
        let start = Timestamp(milliseconds: (now / 86_400_000 - 1) * 86_400_000)
        let records = UsageSimulator(seed: 42, start: start, hours: 24).records(for: Scenario.all).map { record in
            var moved = record
            moved.topic = "\(id).events.\(record.event.instance)"
            return moved
        }
        let topics = Set(records.map(\.topic)).sorted()
        let kafka = KafkaConfiguration(["bootstrap.servers": brokers])
        try await DedicatedThread.run(name: "fill") {
            try KafkaAdmin(configuration: kafka, logger: logger).createTopics(topics.map {
                KafkaNewTopic(name: $0, partitions: 2, configs: ["retention.ms": "3024000000"])
            })
            let producer = try KafkaProducer(configuration: kafka, logger: logger)
            for record in records { try producer.send(record.outgoing()) }
            try producer.awaitDeliveries()
        }
        let configuration = UsagePipelineConfiguration(
            brokers: brokers, databaseURL: databaseURL, groupID: "\(id)-group", topicPattern: "^\(id)\\.events\\..+",
            totalsTopic: "\(id).totals", deadLetterTopic: "\(id).deadletter", totalsTable: "\(id)_totals",
            commitIntervalMilliseconds: 200)
        let pipeline = UsagePipeline(configuration: configuration, mode: .untilCaughtUp(partitions: topics.count * 2), logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await pipeline.run() }
            group.addTask {
                try await Task.sleep(for: .seconds(120))
                pipeline.requestStop()
                throw TestSetupError("the pipeline did not catch up within 120 s")
            }
            try await group.next()
            group.cancelAll()
        }
        // The PostgreSQL sink copies the totals topic asynchronously: wait until it holds every total.
        let table = "\(id)_totals"
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(60)
        while true {
            let (inKafka, inPostgres) = try await DedicatedThread.run(name: "compare") {
                (try TotalsReader.fromKafka(kafka, topic: "\(id).totals", logger: logger).count,
                 (try? TotalsReader.fromPostgres(url: databaseURL, table: table).count) ?? -1)
            }
            if inKafka > 0 && inKafka == inPostgres { break }
            guard clock.now < deadline else { throw TestSetupError("PostgreSQL has \(inPostgres) of \(inKafka) totals after 60 s") }
            try await Task.sleep(for: .milliseconds(200))
        }
        let book = try PriceBook.parse(String(contentsOf: TestServices.repository.appendingPathComponent("examples/price-book.yaml"), encoding: .utf8),
                                       file: "examples/price-book.yaml")
        var prices = PriceBookSource(kafka: kafka)
        prices.topic = "\(id).prices"
        let pricesTopic = prices.topic
        try await DedicatedThread.run(name: "prices") {
            _ = try PriceBookTopic.publish(book, kafka: kafka, topic: pricesTopic, time: Timestamp(milliseconds: WallClock.milliseconds()),
                                           logger: logger)
        }
        let realm = try await TestRealm.start()
        let api = try await startAPI(realm: realm, databaseURL: databaseURL, table: table, prices: prices)
        let admin = try await realm.token(tenant: nil, roles: [TestRealm.adminRole])
        while try await HTTP.get(api + "/v1/prices", token: admin).status != 200 {
            guard clock.now < deadline + .seconds(60) else { throw TestSetupError("the API did not read the price book") }
            try await Task.sleep(for: .milliseconds(100))
        }
        return Fixture(realm: realm, databaseURL: databaseURL, table: table, api: api,
                       day: String(start.rfc3339.prefix(10)), expected: ExpectedTotals(records: records, scope: Topology.standard.scope, key: Topology.standard.key))
    }

    /// Starts an API server (it runs until the test process ends) and returns its base URL.
    static func startAPI(realm: TestRealm?, databaseURL: String, table: String, prices: PriceBookSource? = nil,
                         keyCacheTimeToLive: Duration = .seconds(300), minimumRefetch: Duration = .seconds(10)) async throws -> String {
        var oidc: OIDCConfiguration?
        if let realm {
            var configuration = OIDCConfiguration(jwksURL: realm.jwksURL, issuer: TestRealm.issuer, audience: TestRealm.audience)
            configuration.adminRole = TestRealm.adminRole
            configuration.keyCacheTimeToLive = keyCacheTimeToLive
            configuration.minimumRefetchInterval = minimumRefetch
            oidc = configuration
        }
        var configuration = UsageAPIConfiguration(databaseURL: databaseURL, oidc: oidc)
        configuration.table = table
        configuration.host = "127.0.0.1"
        configuration.port = try TestServices.freePort()
        configuration.connections = 2
        configuration.prices = prices
        let server = try UsageAPIServer.make(configuration, logger: logger)
        Task { try await ServiceGroup(services: [server], logger: logger).run() }
        let base = "http://127.0.0.1:\(configuration.port)"
        try await TestRealm.waitUntilServing(base + "/healthz")
        return base
    }

    /// Runs `sql` on the test database (blocking libpq, off the cooperative pool).
    func sql(_ sql: String, _ parameters: [PostgresValue] = []) async throws -> [PostgresRow] {
        let url = databaseURL
        return try await DedicatedThread.run(name: "sql") {
            try PostgresConnection(url: url).query(sql, parameters)
        }
    }
}
