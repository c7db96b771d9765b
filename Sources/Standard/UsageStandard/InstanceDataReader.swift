/// Reads and checks the `data` of an instance event (see `schemas/instance-event-data.v1.schema.json`).
/// Unknown members are ignored, as in usage events.
struct InstanceDataReader {
    let data: JSONValue

    func read() throws(InstanceEventError) -> (InstanceChange, String, InstanceDescription?) {
        guard data.members != nil else {
            throw InstanceEventError(.malformedJSON, "data", "must be a JSON object, not \(data.kind)")
        }
        let changeText = try string("change")
        guard let change = InstanceChange(rawValue: changeText) else {
            throw InstanceEventError(.invalidAttribute, "data.change", "'\(changeText)' is not created, updated or deleted")
        }
        let id = try string("instance")
        guard Identifier.isID(id) else {
            throw InstanceEventError(.invalidAttribute, "data.instance",
                                     "'\(id)' is not an instance id (lower-case letters, digits, '.', '_', '-', starting and ending with a letter or digit, at most 200 characters)")
        }
        if change == .deleted && data["tenant"] == nil { return (change, id, nil) }
        let tenant = try string("tenant")
        let provider = try string("provider")
        guard Identifier.isName(provider) else {
            throw InstanceEventError(.invalidAttribute, "data.provider", "'\(provider)' must be lower-case letters, digits and '-' (gcp, azure, onprem, ...)")
        }
        guard let kubernetes = data["kubernetes"] else {
            throw InstanceEventError(.missingAttribute, "data.kubernetes", "is required: {cluster, namespaces}")
        }
        guard kubernetes.members != nil else {
            throw InstanceEventError(.malformedJSON, "data.kubernetes", "must be an object, not \(kubernetes.kind)")
        }
        let cluster = try string("cluster", in: kubernetes, "data.kubernetes.cluster")
        let namespaces = try names("namespaces", in: kubernetes, "data.kubernetes.namespaces", check: Identifier.isNamespace,
                                   rule: "a Kubernetes namespace name (lower-case letters, digits, '-', at most 63)")
        guard !namespaces.isEmpty else {
            throw InstanceEventError(.missingAttribute, "data.kubernetes.namespaces", "needs at least one namespace")
        }
        let components = try names("components", in: data, "data.components", check: Identifier.isName,
                                   rule: "a component name (lower-case letters, digits and '-')")
        var links: [LinkedSystem] = []
        if let linksValue = data["links"] {
            guard let items = linksValue.array else {
                throw InstanceEventError(.malformedJSON, "data.links", "must be an array, not \(linksValue.kind)")
            }
            for (index, item) in items.enumerated() {
                let path = "data.links[\(index)]"
                guard item.members != nil else { throw InstanceEventError(.malformedJSON, path, "must be an object, not \(item.kind)") }
                let name = try string("name", in: item, path + ".name")
                let component = try string("component", in: item, path + ".component")
                guard Identifier.isName(component) else {
                    throw InstanceEventError(.invalidAttribute, path + ".component", "'\(component)' is not a component name (lower-case letters, digits and '-')")
                }
                var provider: String?
                if item["provider"] != nil { provider = try string("provider", in: item, path + ".provider") }
                guard let accountedValue = item["accounted"] else {
                    throw InstanceEventError(.missingAttribute, path + ".accounted", "is required: true if the tenant is billed for it, else false")
                }
                guard let accounted = accountedValue.bool else {
                    throw InstanceEventError(.invalidAttribute, path + ".accounted", "must be true or false, not \(accountedValue.kind)")
                }
                guard !links.contains(where: { $0.name == name }) else {
                    throw InstanceEventError(.invalidAttribute, path + ".name", "'\(name)' appears twice")
                }
                links.append(LinkedSystem(name: name, component: component, provider: provider, accounted: accounted))
            }
        }
        return (change, id, InstanceDescription(id: id, tenant: tenant, provider: provider, cluster: cluster,
                                                namespaces: namespaces, components: components, links: links))
    }

    private func string(_ key: String) throws(InstanceEventError) -> String {
        try string(key, in: data, "data." + key)
    }

    /// A non-empty string member. Its text becomes a name (a tenant, a cluster, a link): it follows CloudEvents'
    /// String rule like the usage events' attributes it turns into.
    private func string(_ key: String, in object: JSONValue, _ path: String) throws(InstanceEventError) -> String {
        guard let value = object[key] else { throw InstanceEventError(.missingAttribute, path, "is required") }
        guard let text = value.string else { throw InstanceEventError(.invalidAttribute, path, "must be a string, not \(value.kind)") }
        guard !text.isEmpty else { throw InstanceEventError(.missingAttribute, path, "must not be empty") }
        if let problem = CloudEventsTypes.stringProblem(text) { throw InstanceEventError(.invalidAttribute, path, problem) }
        return text
    }

    private func names(_ key: String, in object: JSONValue, _ path: String, check: (String) -> Bool,
                       rule: String) throws(InstanceEventError) -> [String] {
        guard let value = object[key] else { throw InstanceEventError(.missingAttribute, path, "is required (a list)") }
        guard let items = value.array else { throw InstanceEventError(.malformedJSON, path, "must be an array, not \(value.kind)") }
        var result: [String] = []
        for (index, item) in items.enumerated() {
            guard let text = item.string else {
                throw InstanceEventError(.invalidAttribute, "\(path)[\(index)]", "must be a string, not \(item.kind)")
            }
            guard check(text) else { throw InstanceEventError(.invalidAttribute, "\(path)[\(index)]", "'\(text)' is not \(rule)") }
            guard !result.contains(text) else { throw InstanceEventError(.invalidAttribute, "\(path)[\(index)]", "'\(text)' appears twice") }
            result.append(text)
        }
        return result
    }
}
