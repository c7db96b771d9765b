import UsageStandard

/// Translates the deployment wizard's configuration message (the JSON the ferrisDX Helm charts deploy an instance
/// from) into an instance event: the usage view of the same configuration. Pure.
///
/// The mapping (documented in the standard, section 11):
///
/// | wizard message | instance event |
/// | --- | --- |
/// | `action`: `deploy` / `update` / `decommission` | `data.change`: `created` / `updated` / `deleted` |
/// | `requestId` (else `<instance>-<action>-<timestamp>`) | `id` |
/// | `timestamp` | `time` |
/// | `instance.id` | `data.instance`, the record key |
/// | `client.id` | `data.tenant` |
/// | `infrastructure.provider` (lower-cased, `T-Systems` -> `tsystems`, `Red Hat` -> `redhat`) | `data.provider` |
/// | `infrastructure.kubernetes.cluster` | `data.kubernetes.cluster` |
/// | `infrastructure.kubernetes.namespace` + `additionalNamespaces` | `data.kubernetes.namespaces` |
/// | `components.base` + the `components.optional` entries with `enabled: true` (names normalised) | `data.components` |
/// | `integrations[]`: `name`, `connector` (else `<type>-link`), `provider`, `billable` (default true) | `data.links[]`: `name`, `component`, `provider`, `accounted` |
public enum WizardConfiguration {
    /// The CloudEvents `source` of translated events.
    public static let source = "/ferris/wizard"

    /// Component names as the wizard spells them, and the standard's name for each.
    public static let componentNames = [
        "flask": "ferris-ui", "flask-admin": "ferris-ui", "ferris-admin": "ferris-ui", "ui": "ferris-ui",
        "postgres": "postgresql", "elasticsearch": "elastic", "theia": "theia-ide", "ide": "theia-ide",
        "trino": "presto", "jupyter": "jupyterhub",
    ]

    /// The instance event for the wizard message `json`.
    public static func instanceEvent(from json: [UInt8]) throws(WizardConfigurationError) -> InstanceEvent {
        let message: JSONValue
        switch JSONValue.parse(json) {
        case .success(let value): message = value
        case .failure(let error): throw WizardConfigurationError("the message is not JSON: \(error)")
        }
        func text(_ path: String) throws(WizardConfigurationError) -> String {
            var node: JSONValue? = message
            for part in path.split(separator: ".") { node = node?[String(part)] }
            guard let value = node?.string, !value.isEmpty else {
                throw WizardConfigurationError("\(path) is required (a non-empty string)")
            }
            return value
        }
        let action = try text("action")
        let change: InstanceChange
        switch action {
        case "deploy": change = .created
        case "update": change = .updated
        case "decommission": change = .deleted
        default: throw WizardConfigurationError("action '\(action)' is not deploy, update or decommission")
        }
        let instanceID = try text("instance.id")
        let timestampText = try text("timestamp")
        guard let time = Timestamp.parse(timestampText) else {
            throw WizardConfigurationError("timestamp '\(timestampText)' is not an RFC 3339 date-time with seconds")
        }
        let id = message["requestId"]?.string ?? "\(instanceID)-\(action)-\(time.rfc3339)"
        if change == .deleted {
            return InstanceEvent(deleted: instanceID, id: id, source: source, time: time)
        }
        let kubernetes = message["infrastructure"]?["kubernetes"]
        var namespaces = [try text("infrastructure.kubernetes.namespace")]
        for extra in kubernetes?["additionalNamespaces"]?.array ?? [] {
            guard let name = extra.string else { throw WizardConfigurationError("infrastructure.kubernetes.additionalNamespaces must hold strings") }
            if !namespaces.contains(name) { namespaces.append(name) }
        }
        var components: [String] = []
        for item in message["components"]?["base"]?.array ?? [] {
            guard let name = item.string else { throw WizardConfigurationError("components.base must hold component names") }
            append(name, to: &components)
        }
        for item in message["components"]?["optional"]?.array ?? [] {
            guard let name = item["name"]?.string else { throw WizardConfigurationError("components.optional entries need a name") }
            if item["enabled"]?.bool ?? false { append(name, to: &components) }
        }
        var links: [LinkedSystem] = []
        for (index, item) in (message["integrations"]?.array ?? []).enumerated() {
            guard let type = item["type"]?.string, !type.isEmpty else {
                throw WizardConfigurationError("integrations[\(index)].type is required")
            }
            links.append(LinkedSystem(name: item["name"]?.string ?? type,
                                      component: item["connector"]?.string ?? "\(type)-link",
                                      provider: item["provider"]?.string.map(providerName),
                                      accounted: item["billable"]?.bool ?? true))
        }
        let instance = InstanceDescription(id: instanceID, tenant: try text("client.id"),
                                           provider: providerName(try text("infrastructure.provider")),
                                           cluster: try text("infrastructure.kubernetes.cluster"),
                                           namespaces: namespaces, components: components, links: links)
        // The result must be a valid instance event: check it with the standard's own decoder.
        let encoded = InstanceEventEncoder.encode(InstanceEvent(id: id, source: source, time: time, change: change, instance: instance))
        if case .failure(let error) = InstanceEventDecoder.decode(key: encoded.key, value: encoded.value,
                                                                  headers: encoded.headers.map { ($0.name, Array($0.value.utf8)) }) {
            throw WizardConfigurationError("the message does not give a valid instance event: \(error)")
        }
        return InstanceEvent(id: id, source: source, time: time, change: change, instance: instance)
    }

    private static func append(_ name: String, to components: inout [String]) {
        let lower = name.lowercased()
        let normalised = componentNames[lower] ?? lower
        if !components.contains(normalised) { components.append(normalised) }
    }

    /// The standard's provider name for the wizard's spelling (`GCP` -> `gcp`, `T-Systems` -> `tsystems`).
    static func providerName(_ text: String) -> String {
        let lower = text.lowercased().filter { $0.isLetter || $0.isNumber }
        return lower == "onpremise" || lower == "onpremises" ? "onprem" : lower
    }
}

/// The wizard message cannot be translated; says what is missing or wrong.
public struct WizardConfigurationError: Error, Sendable, CustomStringConvertible {
    /// What is wrong; text quoted from the message has its control characters escaped (it is printed and logged).
    public var description: String
    init(_ description: String) { self.description = description.escapingControlCharacters }
}
