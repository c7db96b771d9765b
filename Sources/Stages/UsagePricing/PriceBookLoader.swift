import UsageStandard
import YAMLFiles
import Yams

extension PriceBook {
    /// Parses and checks price book text, YAML or JSON (`docs/schemas/price-book.v1.schema.json`); `file` names it
    /// in problems. Every problem is reported, with its line and column: first the file's shape, then, once the
    /// shape is right, the rules of `issues()`.
    public static func parse(_ text: String, file: String) throws(PriceBookError) -> PriceBook {
        var reader = YAMLReader(file: file)
        guard let root = reader.compose(text, emptyMessage: "the file is empty; a price book needs priceBook, revision, currency and versions") else {
            throw PriceBookError(problems: reader.problems)
        }
        let book = reader.priceBook(root)
        guard reader.problems.isEmpty, let book else { throw PriceBookError(problems: reader.problems) }
        let issues = book.issues()
        guard issues.isEmpty else {
            var located = YAMLReader(file: file)
            for issue in issues { located.problem(issue.location ?? reader.location(root), issue.message) }
            let sorted = located.problems.enumerated().sorted { ($0.element.line, $0.element.column, $0.offset) < ($1.element.line, $1.element.column, $1.offset) }
            throw PriceBookError(problems: sorted.map(\.element))
        }
        return book
    }
}

extension YAMLReader {
    mutating func priceBook(_ root: Node) -> PriceBook? {
        var id = ""
        var revision: Int64 = 0
        var currency: Currency?
        var summary = ""
        var tenants: [String] = []
        var versions: [PriceVersion] = []
        forEach(root, in: "the price book", keys: ["priceBook", "revision", "currency", "description", "tenants", "versions"],
                required: ["priceBook", "revision", "currency", "versions"]) { reader, key, value in
            switch key {
            case "priceBook": id = reader.name(value, "priceBook") ?? ""
            case "revision":
                guard let text = reader.string(value, "revision"), let number = Int64(text), number >= 0 else {
                    reader.problem(value, "revision must be a whole number, 0 or more, raised with every publication")
                    return
                }
                revision = number
            case "currency": currency = reader.currency(value, "currency")
            case "description": summary = reader.string(value, "description") ?? ""
            case "tenants": tenants = reader.sequence(value, "tenants").compactMap { reader.name($0, "a tenant") }
            default:
                versions = reader.sequence(value, "versions").compactMap { reader.version($0) }
            }
        }
        guard let currency else { return nil }
        return PriceBook(id: id, revision: revision, currency: currency, summary: summary, tenants: tenants, versions: versions)
    }

    mutating func currency(_ node: Node, _ name: String) -> Currency? {
        guard let code = string(node, name) else { return nil }
        guard let currency = Currency(code: code) else {
            problem(node, "\(name) '\(code)' is not an active ISO 4217 currency code with a minor unit (e.g. EUR, USD, CHF, JPY)")
            return nil
        }
        return currency
    }

    mutating func time(_ node: Node, _ name: String) -> Timestamp? {
        guard let text = string(node, name) else { return nil }
        guard let time = Timestamp.parse(text) else {
            problem(node, "\(name) '\(text)' is not an RFC 3339 date-time with seconds and an offset, e.g. 2026-11-01T00:00:00Z")
            return nil
        }
        return time
    }

    mutating func version(_ node: Node) -> PriceVersion? {
        var id = ""
        var from: Timestamp?
        var to: Timestamp?
        var currency: Currency?
        var prices: [SkuPrice] = []
        var contracts: [Contract] = []
        forEach(node, in: "a version", keys: ["id", "effectiveFrom", "effectiveTo", "currency", "prices", "contracts"],
                required: ["id", "effectiveFrom", "prices"]) { reader, key, value in
            switch key {
            case "id": id = reader.name(value, "id") ?? ""
            case "effectiveFrom": from = reader.time(value, "effectiveFrom")
            case "effectiveTo": to = reader.time(value, "effectiveTo")
            case "currency": currency = reader.currency(value, "currency")
            case "prices": prices = reader.sequence(value, "prices").compactMap { reader.price($0) }
            default: contracts = reader.sequence(value, "contracts").compactMap { reader.contract($0) }
            }
        }
        guard let from else { return nil }
        return PriceVersion(id: id, effectiveFrom: from, effectiveTo: to, prices: prices, contracts: contracts,
                            currency: currency, location: location(node))
    }

    static let skuKeys = ["component", "metric", "provider", "instance"]

    /// Reads a SKU's fields into `fields`; true when `key` was one of them.
    mutating func skuField(_ key: String, _ value: Node, _ fields: inout [String: String]) -> Bool {
        guard Self.skuKeys.contains(key) else { return false }
        if let text = name(value, key) { fields[key] = text }
        return true
    }

    func sku(_ fields: [String: String]) -> Sku? {
        guard let component = fields["component"], let metric = fields["metric"] else { return nil }
        return Sku(component: component, metric: metric, provider: fields["provider"], instance: fields["instance"])
    }

    mutating func price(_ node: Node) -> SkuPrice? {
        var fields: [String: String] = [:]
        var unit: String?
        var flat: ExactDecimal?
        var tiers: [Tier]?
        forEach(node, in: "a price", keys: Self.skuKeys + ["unit", "unitPrice", "tiers"],
                required: ["component", "metric", "unit"]) { reader, key, value in
            if reader.skuField(key, value, &fields) { return }
            switch key {
            case "unit": unit = reader.name(value, "unit")
            case "unitPrice": flat = reader.decimal(value, "unitPrice")
            default: tiers = reader.sequence(value, "tiers").compactMap { reader.tier($0) }
            }
        }
        let hasUnitPrice = node.mapping?.keys.contains { $0.scalar?.string == "unitPrice" } ?? false
        let hasTiers = node.mapping?.keys.contains { $0.scalar?.string == "tiers" } ?? false
        if hasUnitPrice == hasTiers {
            problem(node, "a price needs exactly one of unitPrice (a flat price) or tiers (graduated)")
            return nil
        }
        guard let sku = sku(fields), let unit else { return nil }
        if let flat { return SkuPrice(sku: sku, unit: unit, unitPrice: flat, location: location(node)) }
        guard let tiers else { return nil }
        return SkuPrice(sku: sku, unit: unit, tiers: tiers, location: location(node))
    }

    mutating func tier(_ node: Node) -> Tier? {
        var from: ExactDecimal?
        var upTo: ExactDecimal?
        var unitPrice: ExactDecimal?
        forEach(node, in: "a tier", keys: ["from", "upTo", "unitPrice"], required: ["from", "unitPrice"]) { reader, key, value in
            switch key {
            case "from": from = reader.decimal(value, "from")
            case "upTo": upTo = reader.decimal(value, "upTo")
            default: unitPrice = reader.decimal(value, "unitPrice")
            }
        }
        guard let from, let unitPrice else { return nil }
        return Tier(from: from, upTo: upTo, unitPrice: unitPrice, location: location(node))
    }

    mutating func contract(_ node: Node) -> Contract? {
        var tenant: String?
        var percent: ExactDecimal?
        var prices: [ContractPrice] = []
        forEach(node, in: "a contract", keys: ["tenant", "discountPercent", "prices"], required: ["tenant"]) { reader, key, value in
            switch key {
            case "tenant": tenant = reader.name(value, "tenant")
            case "discountPercent": percent = reader.decimal(value, "discountPercent")
            default: prices = reader.sequence(value, "prices").compactMap { reader.contractPrice($0) }
            }
        }
        guard let tenant else { return nil }
        return Contract(tenant: tenant, discountPercent: percent, prices: prices, location: location(node))
    }

    mutating func contractPrice(_ node: Node) -> ContractPrice? {
        var fields: [String: String] = [:]
        var unitPrice: ExactDecimal?
        forEach(node, in: "a contracted price", keys: Self.skuKeys + ["unitPrice"],
                required: ["component", "metric", "unitPrice"]) { reader, key, value in
            if reader.skuField(key, value, &fields) { return }
            unitPrice = reader.decimal(value, "unitPrice")
        }
        guard let sku = sku(fields), let unitPrice else { return nil }
        return ContractPrice(sku: sku, unitPrice: unitPrice, location: location(node))
    }
}
