import Foundation
import Testing
@testable import UsageStandard

let team = InstanceDescription(
    id: "team-gcp", tenant: "team-analytics", provider: "gcp", cluster: "gke-team", namespaces: ["ferris-team"],
    components: ["argocd", "consul", "kafka", "minio", "postgresql", "keycloak", "vault", "ferris-ui"],
    links: [LinkedSystem(name: "azure-databricks", component: "databricks-link", provider: "azure", accounted: false)])

func instanceEvent(_ change: InstanceChange, _ instance: InstanceDescription = team, at seconds: Int64 = 0) -> InstanceEvent {
    InstanceEvent(id: "\(instance.id)-\(change.rawValue)-\(seconds)", source: "/ferris/wizard",
                  time: Timestamp(milliseconds: 1_795_600_000_000 + seconds * 1000), change: change, instance: instance)
}

/// Decodes the structured-mode JSON `text` with key `key`.
func decodeInstance(_ text: String?, key: String? = "team-gcp",
                    headers: [(name: String, value: [UInt8]?)] = [("content-type", Array("application/cloudevents+json".utf8))])
    -> Result<InstanceRecord, InstanceEventError> {
    InstanceEventDecoder.decode(key: key.map { Array($0.utf8) }, value: text.map { Array($0.utf8) }, headers: headers)
}

/// The encoded team event's JSON with `edit` applied to its data text.
func editedTeamEvent(_ edit: (String) -> String) -> String {
    let encoded = InstanceEventEncoder.encode(instanceEvent(.created))
    return edit(String(decoding: encoded.value, as: UTF8.self))
}

@Suite struct InstanceEventDecoding {
    @Test func encodedEventsDecodeToThemselves() throws {
        for event in [instanceEvent(.created), instanceEvent(.updated),
                      InstanceEvent(deleted: "team-gcp", id: "d", source: "/ferris/wizard", time: Timestamp(milliseconds: 5_000))] {
            let encoded = InstanceEventEncoder.encode(event)
            let decoded = InstanceEventDecoder.decode(key: encoded.key, value: encoded.value,
                                                      headers: encoded.headers.map { ($0.name, Array($0.value.utf8)) })
            #expect(try decoded.get() == .event(event))
        }
    }

    @Test func binaryModeIsAccepted() throws {
        let data = InstanceEventEncoder.data(of: instanceEvent(.created)).bytes
        let headers: [(name: String, value: [UInt8]?)] = [
            ("ce_specversion", "1.0"), ("ce_id", "x"), ("ce_source", "/ferris/wizard"), ("ce_type", UsageStandard.instanceEventType),
            ("ce_time", "2026-11-25T08:00:00Z"), ("content-type", "application/json"),
        ].map { ($0.0, Array($0.1.utf8)) }
        let record = try InstanceEventDecoder.decode(key: Array("team-gcp".utf8), value: data, headers: headers).get()
        guard case .event(let event) = record else { Issue.record("not an event"); return }
        #expect(event.instance == team)
        #expect(event.instance?.scope(of: "databricks-link") == .outOfScope)
        #expect(event.instance?.scope(of: "kafka") == .billable)
    }

    @Test func aNullValueIsATombstone() throws {
        #expect(try decodeInstance(nil).get() == .tombstone(instanceID: "team-gcp"))
    }

    @Test(arguments: [
        ("wrong key", "", "", "other", InstanceEventError.Reason.partitionKeyMismatch, "key"),
        ("no time", #""time":"2026-11-25T09:46:40.000Z","#, "", "team-gcp", .invalidTime, "time"),
        ("usage type", "net.ferrislabs.instance.v1", UsageStandard.eventType, "team-gcp", .unsupportedType, "type"),
        ("bad change", #""change":"created""#, #""change":"moved""#, "team-gcp", .invalidAttribute, "data.change"),
        ("no namespaces", #""namespaces":["ferris-team"]"#, #""namespaces":[]"#, "team-gcp", .missingAttribute, "data.kubernetes.namespaces"),
        ("bad namespace", #""ferris-team""#, #""Ferris_Team""#, "team-gcp", .invalidAttribute, "data.kubernetes.namespaces[0]"),
        ("accounted as text", #""accounted":false"#, #""accounted":"no""#, "team-gcp", .invalidAttribute, "data.links[0].accounted"),
        ("no tenant", #""tenant":"team-analytics","#, "", "team-gcp", .missingAttribute, "data.tenant"),
        ("not JSON", "}}", "}}}", "team-gcp", .malformedJSON, ""),
        ("duplicate key", #""tenant":"team-analytics","#, #""tenant":"a","tenant":"b","#, "team-gcp", .malformedJSON, ""),
        ("bad instance id", #""instance":"team-gcp""#, #""instance":"Team GCP""#, "Team GCP", .invalidAttribute, "data.instance"),
    ] as [(String, String, String, String, InstanceEventError.Reason, String)])
    func invalidEventsAreRefusedWithAReason(_ name: String, _ find: String, _ replacement: String, _ key: String,
                                             _ reason: InstanceEventError.Reason, _ attribute: String) {
        let result = decodeInstance(editedTeamEvent { find.isEmpty ? $0 : $0.replacingOccurrences(of: find, with: replacement) }, key: key)
        guard case .failure(let error) = result else {
            Issue.record("\(name): accepted")
            return
        }
        #expect(error.reason == reason, "\(name): \(error)")
        #expect(error.attribute == attribute, "\(name): \(error)")
    }

    @Test func aValueTooLargeIsRefused() {
        let text = editedTeamEvent { $0.replacingOccurrences(of: #""source":"/ferris/wizard""#, with: "\"source\":\"/\(String(repeating: "x", count: 70_000))\"") }
        #expect(throws: InstanceEventError.self) { try decodeInstance(text).get() }
    }
}

@Suite struct InstanceRegistryState {
    @Test func createUpdateDelete() throws {
        var registry = InstanceRegistry()
        #expect(try registry.apply(.event(instanceEvent(.created)), recordTime: .init(milliseconds: 0)).get() == .created(team))
        #expect(registry.owner(cluster: "gke-team", namespace: "ferris-team")?.id == "team-gcp")
        #expect(try registry.apply(.event(instanceEvent(.created)), recordTime: .init(milliseconds: 0)).get() == .unchanged)
        var changed = team
        changed.components.append("jupyterhub")
        changed.namespaces = ["ferris-team-2"]
        #expect(try registry.apply(.event(instanceEvent(.updated, changed, at: 60)), recordTime: .init(milliseconds: 0)).get()
                == .updated(old: team, new: changed))
        #expect(registry.owner(cluster: "gke-team", namespace: "ferris-team") == nil)
        #expect(registry.owner(cluster: "gke-team", namespace: "ferris-team-2")?.id == "team-gcp")
        let deletion = InstanceEvent(deleted: "team-gcp", id: "d", source: "/ferris/wizard",
                                     time: Timestamp(milliseconds: 1_795_600_000_000 + 120_000))
        #expect(try registry.apply(.event(deletion), recordTime: .init(milliseconds: 0)).get() == .deleted(changed))
        #expect(registry["team-gcp"] == nil)
        #expect(registry.deletionTime("team-gcp") == deletion.time)
        #expect(try registry.apply(.event(deletion), recordTime: .init(milliseconds: 0)).get() == .unchanged)
    }

    @Test func anUpdateOfAnUnknownInstanceCreatesIt() throws {
        // Compaction keeps only an instance's latest record, so a reader may never see its `created` event.
        var registry = InstanceRegistry()
        #expect(try registry.apply(.event(instanceEvent(.updated)), recordTime: .init(milliseconds: 0)).get() == .created(team))
    }

    @Test func theRegistryAsItWasAtATime() throws {
        var registry = InstanceRegistry()
        _ = registry.apply(.event(instanceEvent(.created, at: 100)), recordTime: .init(milliseconds: 0))
        var accounted = team
        accounted.links[0].accounted = true
        _ = registry.apply(.event(instanceEvent(.updated, accounted, at: 200)), recordTime: .init(milliseconds: 0))
        _ = registry.apply(.tombstone(instanceID: "team-gcp"), recordTime: Timestamp(milliseconds: 1_795_600_000_000 + 300_000))
        let base: Int64 = 1_795_600_000_000
        #expect(registry.instance("team-gcp", at: Timestamp(milliseconds: base + 150_000)) == team)
        #expect(registry.instance("team-gcp", at: Timestamp(milliseconds: base + 250_000)) == accounted)
        #expect(registry.instance("team-gcp", at: Timestamp(milliseconds: base + 350_000)) == nil)
        // Before the earliest surviving version: that version.
        #expect(registry.instance("team-gcp", at: Timestamp(milliseconds: base)) == team)
        #expect(registry.firstSeen("team-gcp") == Timestamp(milliseconds: base + 100_000))
        // The link's usage is out of scope while it was not accounted, billable once it was, unknown after the deletion.
        #expect(registry.scope(instance: "team-gcp", component: "databricks-link", at: Timestamp(milliseconds: base + 150_000)) == .outOfScope)
        #expect(registry.scope(instance: "team-gcp", component: "databricks-link", at: Timestamp(milliseconds: base + 250_000)) == .billable)
        #expect(registry.scope(instance: "team-gcp", component: "kafka", at: Timestamp(milliseconds: base + 150_000)) == .billable)
        #expect(registry.scope(instance: "team-gcp", component: "kafka", at: Timestamp(milliseconds: base + 350_000)) == nil)
    }

    @Test func aNamespaceOfAnotherLiveInstanceIsRefused() throws {
        var registry = InstanceRegistry()
        _ = registry.apply(.event(instanceEvent(.created)), recordTime: .init(milliseconds: 0))
        var intruder = team
        intruder.id = "intruder"
        let result = registry.apply(.event(instanceEvent(.created, intruder)), recordTime: .init(milliseconds: 0))
        guard case .failure(let error) = result else { Issue.record("accepted"); return }
        #expect(error.reason == .namespaceConflict)
        #expect(registry["intruder"] == nil)
        // On another cluster the same namespace name is someone else's.
        intruder.cluster = "other-cluster"
        #expect(try registry.apply(.event(instanceEvent(.created, intruder)), recordTime: .init(milliseconds: 0)).get() == .created(intruder))
    }
}

@Suite struct DocumentedInstanceEvents {
    static let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../docs/examples").standardized

    /// Each seed scenario's instance events (docs/examples/*.instances.jsonl) decode, apply to a registry, and encode
    /// back to the documented bytes.
    @Test(arguments: ["single-user-gcp", "team-databricks", "hybrid-onprem-gcp"])
    func decodeApplyAndEncodeBack(_ scenario: String) throws {
        let text = try String(contentsOf: Self.examples.appendingPathComponent("\(scenario).instances.jsonl"), encoding: .utf8)
        var registry = InstanceRegistry()
        for line in text.split(separator: "\n") {
            let key = try #require(JSONValue.parse(Array(line.utf8)).get()["data"]?["instance"]?.string)
            let record = try InstanceEventDecoder.decode(key: Array(key.utf8), value: Array(line.utf8),
                                                         headers: [("content-type", Array(UsageStandard.structuredContentType.utf8))]).get()
            guard case .event(let event) = record else { Issue.record("not an event"); return }
            #expect(String(decoding: InstanceEventEncoder.encode(event).value, as: UTF8.self) == String(line))
            _ = try registry.apply(record, recordTime: event.time).get()
        }
        #expect(!registry.instances.isEmpty)
        if scenario == "hybrid-onprem-gcp" {
            // Two instances of one tenant; the same namespace name on two clusters; the update added Presto.
            #expect(Set(registry.instances.values.map(\.tenant)) == ["hybrid-corp"] && registry.instances.count == 2)
            #expect(registry["hybrid-gcp"]?.components.contains("presto") == true)
            #expect(registry.instance("hybrid-gcp", at: Timestamp.parse("2026-11-24T08:00:00Z") ?? Timestamp(milliseconds: 0))?
                .components.contains("presto") == false)
        }
        if scenario == "team-databricks" {
            #expect(registry["team-gcp"]?.scope(of: "databricks-link") == .outOfScope)
        }
    }

    @Test func aRecordWithoutKeyOrWithABadAttributeNameIsRefused() {
        let text = editedTeamEvent { $0 }
        guard case .failure(let error) = decodeInstance(text, key: nil) else { Issue.record("accepted without key"); return }
        #expect(error.reason == .missingKey)
        let badName = editedTeamEvent { $0.replacingOccurrences(of: #""specversion":"1.0","#, with: #""specversion":"1.0","Bad_Ext":"x","#) }
        guard case .failure(let nameError) = decodeInstance(badName) else { Issue.record("accepted a bad attribute name"); return }
        #expect(nameError.reason == .invalidExtensionName && nameError.attribute == "Bad_Ext")
        let objectValue = editedTeamEvent { $0.replacingOccurrences(of: #""specversion":"1.0","#, with: #""specversion":"1.0","region":{},"#) }
        guard case .failure(let valueError) = decodeInstance(objectValue) else { Issue.record("accepted an object attribute"); return }
        #expect(valueError.reason == .invalidAttribute && valueError.attribute == "region")
    }
}
