import Foundation
import Testing
@testable import UsageStandard

/// One value of one attribute from `docs/examples/type-system.cases.json`, the table of the CloudEvents type system
/// that the JSON Schemas are checked against too (`scripts/check-contract.py`).
struct TypeSystemCase: CustomTestStringConvertible, Sendable {
    /// How the value travels as a binary-mode header.
    enum Header: Sendable, Equatable {
        /// A header with this text.
        case text(String)
        /// No header (a JSON null is an absent attribute).
        case absent
        /// Not expressible as a header (a boolean, number, object or array, an unpaired surrogate, `data_base64`).
        case none
    }

    let rule: String
    let event: String
    let attribute: String
    /// The value as JSON text, as written into a structured-mode event.
    let json: String
    let header: Header
    /// The reason code the value is refused with; nil when it is valid.
    let reason: String?

    var modes: [CloudEventMode] { header == .none ? [.structured] : [.binary, .structured] }
    var testDescription: String { "\(rule): \(attribute) = \(json)\(reason.map { " refused as \($0)" } ?? " valid")" }
}

enum TypeSystemTable {
    static let document: JSONValue = {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../docs/examples/type-system.cases.json").standardized.path
        guard let bytes = FileManager.default.contents(atPath: path) else { return .null }
        return (try? JSONValue.parse(Array(bytes)).get()) ?? .null
    }()

    static let cases: [TypeSystemCase] = (document["groups"]?.array ?? []).flatMap { group -> [TypeSystemCase] in
        let rule = group["rule"]?.string ?? "?"
        let asText = group["json"]?.bool == true
        var values: [(json: String, reason: String?)] = []
        for (key, reason) in [("valid", nil), ("invalid", group["reason"]?.string), ("schemaCannotTell", group["reason"]?.string)] {
            for value in group[key]?.array ?? [] {
                // JSON-text values (`json` groups, `schemaCannotTell`) are written as they are.
                let json = asText || key == "schemaCannotTell" ? value.string ?? "" : String(decoding: value.bytes, as: UTF8.self)
                values.append((json, reason))
            }
        }
        return (group["events"]?.array ?? []).flatMap { event in
            (group["attributes"]?.array ?? []).flatMap { attribute in
                values.map { value in
                    let name = attribute.string ?? "?"
                    let header: TypeSystemCase.Header = switch try? JSONValue.parse(Array(value.json.utf8)).get() {
                    case .string(let text) where name != "data_base64": .text(text)
                    case .null: .absent
                    default: .none
                    }
                    return TypeSystemCase(rule: rule, event: event.string ?? "?", attribute: name, json: value.json,
                                          header: header, reason: value.reason)
                }
            }
        }
    }

    static let usageCases = cases.filter { $0.event == "usage" }
    static let instanceCases = cases.filter { $0.event == "instance" }

    /// The table's valid usage event as an `EventSpec`.
    static func usageSpec() -> EventSpec {
        var spec = EventSpec()
        let members = document["usageEvent"]?.members ?? []
        spec.attributes = members.filter { $0.key != "data" }.map { ($0.key, String(decoding: $0.value.bytes, as: UTF8.self)) }
        spec.data = document["usageEvent"]?["data"].map { String(decoding: $0.bytes, as: UTF8.self) }
        return spec
    }
}

/// Attributes the allocation-free path reads itself (it declines the others, leaving them to the general decoder).
private let fastPathAttributes: Set = ["id", "source", "time", "tenant", "instance", "component", "provider", "subject", "region"]

@Suite("CloudEvents type system: the shared table, in both Kafka modes, for usage and instance events")
struct TypeSystemTests {
    @Test("usage events: each case decodes as the table says, the fast path agreeing", arguments: TypeSystemTable.usageCases)
    func usageEvent(_ testCase: TypeSystemCase) {
        for mode in testCase.modes {
            var spec = TypeSystemTable.usageSpec()
            if testCase.attribute == "data_base64" {
                spec.data = nil
                spec.rawMembers = [#""data_base64":"# + testCase.json]
            } else {
                spec.set(testCase.attribute, mode == .binary && testCase.header == .absent ? nil : testCase.json)
            }
            if testCase.reason == nil, case .text(let text) = testCase.header {
                if testCase.attribute == "tenant" { spec.key = text }
                // A valid time within the horizon of the record that carries it.
                if testCase.attribute == "time", let time = Timestamp.parse(text) {
                    spec.referenceTime = Timestamp(milliseconds: time.milliseconds + 3_600_000)
                }
            }
            // `check` also holds decode and findings, and the allocation-free and general paths, to agreement.
            let result = check(spec, mode)
            switch (result, testCase.reason) {
            case (.success, nil): break
            case (.success(let event), let reason?): Issue.record("\(mode): accepted \(event), expected \(reason)")
            case (.failure(let error), nil): Issue.record("\(mode): refused a valid value: \(error.reason.rawValue) \(error)")
            case (.failure(let error), let reason?): #expect(error.reason.rawValue == reason, "\(mode): \(error)")
            }
            // Where the fast path can take the value, it does: its agreement above was then checked on an accepted
            // event. In structured mode it takes strings without JSON escapes.
            if testCase.reason == nil, fastPathAttributes.contains(testCase.attribute),
               case .text(let text) = testCase.header, mode == .binary || !testCase.json.contains("\\"),
               text.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) || ["tenant", "instance", "component", "provider", "source"].contains(testCase.attribute) {
                #expect(takesFastPath(spec, mode), "\(mode): the allocation-free path declined \(testCase.attribute) = \(text)")
            }
        }
    }

    @Test("instance events: each case decodes as the table says", arguments: TypeSystemTable.instanceCases)
    func instanceEvent(_ testCase: TypeSystemCase) {
        let base = TypeSystemTable.document["instanceEvent"]?.members ?? []
        let key = Array((TypeSystemTable.document["instanceEvent"]?["data"]?["instance"]?.string ?? "").utf8)
        for mode in testCase.modes {
            var attributes = base.filter { $0.key != "data" && $0.key != testCase.attribute }
                .map { ($0.key, String(decoding: $0.value.bytes, as: UTF8.self)) }
            if !(mode == .binary && testCase.header == .absent) { attributes.append((testCase.attribute, testCase.json)) }
            let data = base.first { $0.key == "data" }?.value.bytes ?? []
            let headers: [(name: String, value: [UInt8]?)]
            let value: [UInt8]
            switch mode {
            case .structured:
                headers = [("content-type", Array(UsageStandard.structuredContentType.utf8))]
                let members = attributes.map { "\"\($0.0)\":\($0.1)" } + ["\"data\":" + String(decoding: data, as: UTF8.self)]
                value = Array(("{" + members.joined(separator: ",") + "}").utf8)
            case .binary:
                headers = attributes.map { name, json in
                    (name == "datacontenttype" ? "content-type" : "ce_" + name, Array(EventSpec.headerText(json).utf8))
                }
                value = data
            }
            let result = InstanceEventDecoder.decode(key: key, value: value, headers: headers)
            switch (result, testCase.reason) {
            case (.success, nil): break
            case (.success(let record), let reason?): Issue.record("\(mode): accepted \(record), expected \(reason)")
            case (.failure(let error), nil): Issue.record("\(mode): refused a valid value: \(error.reason.rawValue) \(error)")
            case (.failure(let error), let reason?): #expect(error.reason.rawValue == reason, "\(mode): \(error)")
            }
        }
    }

    @Test("the table has valid and invalid values for every rule, in both modes, for every kind of attribute")
    func coverage() {
        let cases = TypeSystemTable.cases
        #expect(cases.count >= 450)
        for rule in Set(cases.map(\.rule)) {
            let ofRule = cases.filter { $0.rule == rule }
            for event in ["usage", "instance"] where !(rule == "Binary" && event == "instance") {
                #expect(ofRule.contains { $0.event == event && $0.reason == nil }, "\(rule): no valid \(event) case")
                #expect(ofRule.contains { $0.event == event && $0.reason != nil }, "\(rule): no invalid \(event) case")
            }
        }
        // The String rule, for each kind of attribute, in binary mode (headers) and structured mode.
        let kinds = ["context String": ["id", "subject"], "URI-reference": ["source"], "URI": ["dataschema"], "Timestamp": ["time"],
                     "media type": ["datacontenttype"], "the standard's extensions": ["tenant", "instance", "component", "provider"],
                     "other extensions": ["region"]]
        for (kind, attributes) in kinds {
            for mode in CloudEventMode.allCases {
                let ofKind = cases.filter { attributes.contains($0.attribute) && $0.modes.contains(mode) }
                #expect(ofKind.contains { $0.rule.hasPrefix("String") && $0.reason != nil }, "\(kind), \(mode): no invalid String case")
                #expect(ofKind.contains { $0.reason == nil }, "\(kind), \(mode): no valid case")
            }
        }
        // The table's own valid events are valid.
        #expect((try? check(TypeSystemTable.usageSpec(), .binary).get()) != nil)
        #expect((try? check(TypeSystemTable.usageSpec(), .structured).get()) != nil)
    }
}

/// Whether the allocation-free path decodes `spec` in `mode` (and agrees with the general decoder).
func takesFastPath(_ spec: EventSpec, _ mode: CloudEventMode = .binary) -> Bool {
    let (headers, value) = spec.record(mode)
    return withOptional(spec.key.map { Array($0.utf8) }) { key in
        withOptional(value) { bytes in
            let decoder = UsageEventDecoder()
            let general = decoder.decode(headers: RawHeaders(list: headers), key: key, value: bytes, referenceTime: spec.referenceTime)
            return expectFastPathAgrees(decoder, RawHeaders(list: headers), key: key, value: bytes,
                                        referenceTime: spec.referenceTime, general)
        }
    }
}
