import UsagePricing
import UsageStandard

/// A publication of a price book (standard, section 14): a CloudEvent of type `net.ferrislabs.usage.pricebook.v1`
/// whose `data` is the whole book, on the compacted prices topic with the book id as the record key.
public struct PriceBookEvent: Sendable, Equatable {
    /// The CloudEvents type of a price book publication.
    public static let type = "net.ferrislabs.usage.pricebook.v1"
    /// The `source` of the events `ferris-usage prices publish` sends.
    public static let defaultSource = "/ferris-usage/prices"

    /// The book, without file positions (they mean nothing once the book is on the topic).
    public var book: PriceBook
    /// Who published it (`source`).
    public var source: String
    /// When the revision was published (`time`).
    public var time: Timestamp

    /// Creates the publication of `book` at `time`.
    public init(book: PriceBook, source: String = PriceBookEvent.defaultSource, time: Timestamp) {
        self.book = book.withoutPositions
        self.source = source
        self.time = time
    }

    /// The event id: `<book id>#<revision>`, the same for every send of one revision, so a repeat is recognisably
    /// the same publication.
    public var id: String { Self.id(book: book.id, revision: book.revision) }

    /// The event id of `revision` of the book `book`.
    public static func id(book: String, revision: Int64) -> String { "\(book)#\(revision)" }
}

/// Lays out price book events for the prices topic: structured mode (the whole CloudEvent as JSON), key = book id.
public enum PriceBookEventEncoder {
    /// The record key, headers and value of `event`.
    public static func encode(_ event: PriceBookEvent) -> (key: [UInt8], headers: [(name: String, value: String)], value: [UInt8]) {
        let value = JSONValue.object([
            ("specversion", .string(UsageStandard.specVersion)), ("id", .string(event.id)), ("source", .string(event.source)),
            ("type", .string(PriceBookEvent.type)), ("time", .string(event.time.rfc3339)),
            ("subject", .string(event.book.id)), ("datacontenttype", .string("application/json")),
            ("data", data(of: event.book)),
        ])
        return (Array(event.book.id.utf8), [(name: "content-type", value: UsageStandard.structuredContentType)], value.bytes)
    }

    /// The book in its JSON form (`docs/schemas/price-book.v1.schema.json`): every number as exact decimal text,
    /// members in the file format's order, optional members only when set.
    public static func data(of book: PriceBook) -> JSONValue {
        var members: [(key: String, value: JSONValue)] = [
            ("priceBook", .string(book.id)), ("revision", .number(String(book.revision))), ("currency", .string(book.currency.code)),
        ]
        if !book.summary.isEmpty { members.append(("description", .string(book.summary))) }
        if !book.tenants.isEmpty { members.append(("tenants", .array(book.tenants.map { .string($0) }))) }
        members.append(("versions", .array(book.versions.map(version))))
        return .object(members)
    }

    private static func version(_ version: PriceVersion) -> JSONValue {
        var members: [(key: String, value: JSONValue)] = [
            ("id", .string(version.id)), ("effectiveFrom", .string(version.effectiveFrom.rfc3339)),
        ]
        if let end = version.effectiveTo { members.append(("effectiveTo", .string(end.rfc3339))) }
        if let currency = version.currency { members.append(("currency", .string(currency.code))) }
        members.append(("prices", .array(version.prices.map(price))))
        if !version.contracts.isEmpty { members.append(("contracts", .array(version.contracts.map(contract)))) }
        return .object(members)
    }

    private static func sku(_ sku: Sku) -> [(key: String, value: JSONValue)] {
        var members: [(key: String, value: JSONValue)] = [("component", .string(sku.component)), ("metric", .string(sku.metric))]
        if let provider = sku.provider { members.append(("provider", .string(provider))) }
        if let instance = sku.instance { members.append(("instance", .string(instance))) }
        return members
    }

    private static func price(_ price: SkuPrice) -> JSONValue {
        var members = sku(price.sku) + [("unit", .string(price.unit))]
        if !price.isTiered, let tier = price.tiers.first, tier.from.isZero, tier.upTo == nil {
            members.append(("unitPrice", .string(tier.unitPrice.text())))
        } else {
            members.append(("tiers", .array(price.tiers.map { tier in
                var fields: [(key: String, value: JSONValue)] = [("from", .string(tier.from.text()))]
                if let upTo = tier.upTo { fields.append(("upTo", .string(upTo.text()))) }
                fields.append(("unitPrice", .string(tier.unitPrice.text())))
                return .object(fields)
            })))
        }
        return .object(members)
    }

    private static func contract(_ contract: Contract) -> JSONValue {
        var members: [(key: String, value: JSONValue)] = [("tenant", .string(contract.tenant))]
        if let percent = contract.discountPercent { members.append(("discountPercent", .string(percent.text()))) }
        if !contract.prices.isEmpty {
            members.append(("prices", .array(contract.prices.map { .object(sku($0.sku) + [("unitPrice", .string($0.unitPrice.text()))]) })))
        }
        return .object(members)
    }
}

extension PriceBook {
    /// The book without file positions, so that books read from different texts (a YAML file, an event's JSON)
    /// compare equal when their content is the same.
    public var withoutPositions: PriceBook {
        var book = self
        book.versions = versions.map { version in
            var version = version
            version.location = nil
            version.prices = version.prices.map { price in
                var price = price
                price.location = nil
                price.tiers = price.tiers.map { tier in
                    var tier = tier
                    tier.location = nil
                    return tier
                }
                return price
            }
            version.contracts = version.contracts.map { contract in
                var contract = contract
                contract.location = nil
                contract.prices = contract.prices.map { price in
                    var price = price
                    price.location = nil
                    return price
                }
                return contract
            }
            return version
        }
        return book
    }
}
