import Foundation
import Testing
import UsageRegistry
import UsageStandard

@Suite struct WizardMessages {
    static let team = """
        {"messageType": "ferrisdx.instance.configuration", "action": "deploy", "requestId": "req-42",
         "timestamp": "2026-11-25T08:00:00Z",
         "instance": {"id": "team-gcp", "name": "Team analytics"},
         "client": {"id": "team-analytics", "name": "Team Analytics GmbH"},
         "infrastructure": {"provider": "GCP", "region": "europe-west1",
                            "kubernetes": {"cluster": "gke-team", "namespace": "ferris-team", "additionalNamespaces": ["ferris-team-apps"]}},
         "components": {"base": ["ArgoCD", "consul", "minio", "kafka", "postgres", "keycloak", "vault", "flask"],
                        "optional": [{"name": "jupyterhub", "enabled": false}, {"name": "theia", "enabled": true}]},
         "integrations": [{"type": "azure-databricks", "name": "analytics-dbx", "provider": "Azure",
                           "connector": "databricks-link", "billable": false}]}
        """

    @Test func theDocumentedMessageGivesTheDocumentedInstanceEvent() throws {
        let examples = repository.appendingPathComponent("docs/examples")
        let message = try Data(contentsOf: examples.appendingPathComponent("team-databricks.wizard.json"))
        let event = try WizardConfiguration.instanceEvent(from: Array(message))
        let line = try String(contentsOf: examples.appendingPathComponent("team-databricks.instances.jsonl"), encoding: .utf8)
        #expect(String(decoding: InstanceEventEncoder.encode(event).value, as: UTF8.self) + "\n" == line)
    }

    @Test func theTeamScenarioMessage() throws {
        let event = try WizardConfiguration.instanceEvent(from: Array(Self.team.utf8))
        #expect(event.id == "req-42" && event.change == .created && event.time == Timestamp.parse("2026-11-25T08:00:00Z"))
        #expect(event.instance == InstanceDescription(
            id: "team-gcp", tenant: "team-analytics", provider: "gcp", cluster: "gke-team",
            namespaces: ["ferris-team", "ferris-team-apps"],
            components: ["argocd", "consul", "minio", "kafka", "postgresql", "keycloak", "vault", "ferris-ui", "theia-ide"],
            links: [LinkedSystem(name: "analytics-dbx", component: "databricks-link", provider: "azure", accounted: false)]))
    }

    @Test func decommissionIsADeletion() throws {
        let text = #"{"action": "decommission", "instance": {"id": "team-gcp"}, "timestamp": "2026-11-26T08:00:00Z"}"#
        let event = try WizardConfiguration.instanceEvent(from: Array(text.utf8))
        #expect(event.change == .deleted && event.instanceID == "team-gcp" && event.instance == nil)
    }

    @Test func anIncompleteMessageSaysWhatIsMissing() {
        let text = Self.team.replacingOccurrences(of: #""client": {"id": "team-analytics", "name": "Team Analytics GmbH"},"#, with: "")
        #expect(throws: WizardConfigurationError.self) { try WizardConfiguration.instanceEvent(from: Array(text.utf8)) }
        do {
            _ = try WizardConfiguration.instanceEvent(from: Array(text.utf8))
        } catch {
            #expect(error.description.contains("client.id"))
        }
    }
}

extension WizardMessages {
    @Test func textFromTheMessageIsRefusedOrQuotedWithoutControlCharacters() {
        for (find, replacement) in [(#""action": "deploy""#, #""action": "\u001b[2Jdeploy""#),
                                    (#""id": "team-analytics""#, #""id": "team\u001b]0;owned\u0007""#)] {
            do {
                _ = try WizardConfiguration.instanceEvent(from: Array(Self.team.replacingOccurrences(of: find, with: replacement).utf8))
                Issue.record("accepted \(replacement)")
            } catch {
                #expect(!error.description.unicodeScalars.contains { $0.properties.generalCategory == .control }, "\(error)")
                #expect(error.description.contains(#"\u{1B}"#) || error.description.contains("U+001B"), "\(error)")
            }
        }
    }
}
