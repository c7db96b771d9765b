import Testing
@testable import Kafka

@Suite("Which rebalance protocol a configuration gets (as librdkafka 2.8 decides it)")
struct RebalancingTests {
    @Test("classic protocol: cooperative only when the strategy list is cooperative-sticky; the default list is eager",
          arguments: [
              (nil, false), ("range,roundrobin", false), ("range", false), ("roundrobin", false),
              ("cooperative-sticky", true),
          ] as [(String?, Bool)])
    func classic(strategy: String?, cooperative: Bool) {
        #expect(Rebalancing.isCooperative(strategy: strategy, groupProtocol: nil, remoteAssignor: nil) == cooperative)
        #expect(Rebalancing.isCooperative(strategy: strategy, groupProtocol: "classic", remoteAssignor: nil) == cooperative)
    }

    @Test("KIP-848 protocol: cooperative when the broker assigns or no strategy is listed")
    func consumerProtocol() {
        #expect(Rebalancing.isCooperative(strategy: "", groupProtocol: "consumer", remoteAssignor: nil))
        #expect(Rebalancing.isCooperative(strategy: "range", groupProtocol: "consumer", remoteAssignor: "uniform"))
        #expect(!Rebalancing.isCooperative(strategy: "range", groupProtocol: "consumer", remoteAssignor: nil))
        #expect(!Rebalancing.isCooperative(strategy: nil, groupProtocol: "consumer", remoteAssignor: nil))
    }
}
