/// Lays out instance events for the instance topic: structured mode (the whole CloudEvent as JSON), key = instance id.
public enum InstanceEventEncoder {
    /// The record key, headers and value of `event`.
    public static func encode(_ event: InstanceEvent) -> (key: [UInt8], headers: [(name: String, value: String)], value: [UInt8]) {
        let value = JSONValue.object([
            ("specversion", .string(UsageStandard.specVersion)), ("id", .string(event.id)), ("source", .string(event.source)),
            ("type", .string(UsageStandard.instanceEventType)), ("time", .string(event.time.rfc3339)),
            ("subject", .string(event.instanceID)), ("datacontenttype", .string("application/json")),
            ("data", data(of: event)),
        ])
        return (Array(event.instanceID.utf8), [(name: "content-type", value: UsageStandard.structuredContentType)], value.bytes)
    }

    /// The event's `data` object.
    public static func data(of event: InstanceEvent) -> JSONValue {
        var members: [(key: String, value: JSONValue)] = [("change", .string(event.change.rawValue)), ("instance", .string(event.instanceID))]
        if let instance = event.instance {
            members += [
                ("tenant", .string(instance.tenant)), ("provider", .string(instance.provider)),
                ("kubernetes", .object([("cluster", .string(instance.cluster)), ("namespaces", .array(instance.namespaces.map(JSONValue.string)))])),
                ("components", .array(instance.components.map(JSONValue.string))),
                ("links", .array(instance.links.map { link in
                    var fields: [(key: String, value: JSONValue)] = [("name", .string(link.name)), ("component", .string(link.component))]
                    if let provider = link.provider { fields.append(("provider", .string(provider))) }
                    fields.append(("accounted", .bool(link.accounted)))
                    return .object(fields)
                })),
            ]
        }
        return .object(members)
    }
}
