import Foundation
import Testing
import UsagePriceBooks
import UsagePricing
import UsageStandard

/// The repository's root (for the example files).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// The seed scenarios' price book (`examples/price-book.yaml`).
func exampleBook() throws -> PriceBook {
    let path = repositoryRoot.appendingPathComponent("examples/price-book.yaml").path
    return try PriceBook.parse(try String(contentsOfFile: path, encoding: .utf8), file: path)
}

/// A timestamp from RFC 3339 text.
func at(_ text: String) -> Timestamp {
    guard let time = Timestamp.parse(text) else { preconditionFailure("not a time: \(text)") }
    return time
}

/// Decodes an encoded event as a record of the prices topic.
func decode(_ encoded: (key: [UInt8], headers: [(name: String, value: String)], value: [UInt8])) -> Result<PriceBookRecord, PriceBookEventError> {
    PriceBookEventDecoder.decode(key: encoded.key, value: encoded.value,
                                 headers: encoded.headers.map { (name: $0.name, value: Array($0.value.utf8)) })
}

/// The record value of `json` (a structured-mode event) with `change` applied to its object.
func event(_ book: PriceBook, _ change: (inout [(key: String, value: JSONValue)]) -> Void) -> [UInt8] {
    let encoded = PriceBookEventEncoder.encode(PriceBookEvent(book: book, time: at("2026-12-01T09:30:00Z")))
    guard case .success(.object(var members)) = JSONValue.parse(encoded.value) else { preconditionFailure("not an object") }
    change(&members)
    return JSONValue.object(members).bytes
}

func replacing(_ key: String, with value: JSONValue) -> (inout [(key: String, value: JSONValue)]) -> Void {
    { members in
        members = members.map { $0.key == key ? (key: key, value: value) : $0 }
    }
}

@Suite("Price book events (structured-mode CloudEvents on the prices topic)")
struct PriceBookEventTests {
    @Test("the example book survives encoding and decoding, with its source and time")
    func roundTrip() throws {
        let book = try exampleBook()
        let event = PriceBookEvent(book: book, time: at("2026-12-01T09:30:00Z"))
        let decoded = decode(PriceBookEventEncoder.encode(event))
        #expect(decoded == .success(.publication(event)))
        guard case .success(.publication(let read)) = decoded else { return }
        #expect(read.book == book.withoutPositions)
        #expect(read.book.versions.map(\.id) == ["2026-11a", "2026-11b"])
        #expect(read.book.table() == book.table(), "the same prices, exactly")
        // A book for named tenants keeps them.
        var named = book
        named.tenants = ["hybrid-corp", "team-analytics"]
        let namedEvent = PriceBookEvent(book: named, time: at("2026-12-01T09:30:00Z"))
        #expect(decode(PriceBookEventEncoder.encode(namedEvent)) == .success(.publication(namedEvent)))
    }

    @Test("the id is <book>#<revision> whenever it is sent; key, subject, type and content type are the standard's")
    func deterministicID() throws {
        let book = try exampleBook()
        let first = PriceBookEventEncoder.encode(PriceBookEvent(book: book, time: at("2026-12-01T09:30:00Z")))
        let again = PriceBookEventEncoder.encode(PriceBookEvent(book: book, time: at("2026-12-01T09:30:00Z")))
        let later = PriceBookEventEncoder.encode(PriceBookEvent(book: book, time: at("2026-12-02T10:00:00Z")))
        #expect(first.value == again.value, "the same publication is the same bytes")
        guard case .success(let value) = JSONValue.parse(first.value), case .success(let laterValue) = JSONValue.parse(later.value) else {
            Issue.record("not JSON")
            return
        }
        #expect(value["id"]?.string == "ferris-list-eur#1")
        #expect(laterValue["id"] == value["id"])
        #expect(value["type"]?.string == "net.ferrislabs.usage.pricebook.v1")
        #expect(value["subject"]?.string == "ferris-list-eur")
        #expect(value["source"]?.string == "/ferris-usage/prices")
        #expect(value["datacontenttype"]?.string == "application/json")
        #expect(value["data"]?["priceBook"]?.string == "ferris-list-eur")
        #expect(value["data"]?["revision"] == .number("1"))
        #expect(value["data"]?["versions"]?.array?.first?["prices"]?.array?.first?["unitPrice"]?.string == "0.000014",
                "prices are exact decimal text")
        #expect(first.key == Array("ferris-list-eur".utf8))
        #expect(first.headers.map { $0.name } == ["content-type"] && first.headers.first?.value == "application/cloudevents+json")
    }

    @Test("a tombstone withdraws the book named by its key")
    func tombstone() {
        #expect(PriceBookEventDecoder.decode(key: Array("ferris-list-eur".utf8), value: nil, headers: [])
                == .success(.tombstone(bookID: "ferris-list-eur")))
    }

    @Test("a record that is not a valid price book event is refused with what is wrong")
    func refused() throws {
        let book = try exampleBook()
        let key = Array(book.id.utf8)
        func reason(_ value: [UInt8], key: [UInt8]? = key) -> PriceBookEventError? {
            if case .failure(let error) = PriceBookEventDecoder.decode(key: key, value: value, headers: []) { return error }
            return nil
        }
        #expect(reason(Array("{not json".utf8))?.reason == .malformedJSON)
        #expect(reason(Array("[1]".utf8))?.reason == .malformedJSON)
        #expect(reason(event(book) { _ in }, key: nil)?.reason == .missingKey)
        #expect(reason(event(book) { _ in }, key: Array("other-book".utf8))?.reason == .keyMismatch)
        #expect(reason(event(book, replacing("type", with: .string("net.ferrislabs.instance.v1"))))?.reason == .unsupportedType)
        #expect(reason(event(book, replacing("id", with: .string("ferris-list-eur#2"))))?.field == "id")
        #expect(reason(event(book, replacing("subject", with: .string("other"))))?.field == "subject")
        #expect(reason(event(book, replacing("time", with: .string("yesterday"))))?.field == "time")
        #expect(reason(event(book) { $0.removeAll { $0.key == "source" } })?.field == "source")
        #expect(reason(event(book) { $0.removeAll { $0.key == "data" } })?.reason == .invalidPriceBook)
        // A book that breaks a rule of section 14: its currency is not ISO 4217.
        let wrongCurrency = reason(event(book) { members in
            guard let index = members.firstIndex(where: { $0.key == "data" }), case .object(var data) = members[index].value else { return }
            data = data.map { $0.key == "currency" ? (key: "currency", value: .string("ABC")) : $0 }
            members[index].value = .object(data)
        })
        #expect(wrongCurrency?.reason == .invalidPriceBook)
        #expect(wrongCurrency?.problem.contains("'ABC' is not an active ISO 4217 currency code") == true, "\(String(describing: wrongCurrency))")
        let wrongHeader = PriceBookEventDecoder.decode(key: key, value: event(book) { _ in },
                                                       headers: [(name: "content-type", value: Array("application/json".utf8))])
        guard case .failure(let headerError) = wrongHeader else {
            Issue.record("a binary-mode content type is accepted")
            return
        }
        #expect(headerError.reason == .malformedJSON && headerError.field == "content-type")
    }
}

@Suite("The price book history read from the topic")
struct PriceBookHistoryTests {
    @Test("every revision is kept, the highest is current, a lower or equal one is ignored, a tombstone withdraws")
    func history() throws {
        var first = try exampleBook()
        first.revision = 1
        var second = first
        second.revision = 2
        var history = PriceBookHistory()
        let time = at("2026-12-01T09:30:00Z")
        #expect(history.apply(.publication(PriceBookEvent(book: first, time: time)), partition: 0, offset: 0)
                == .published(bookID: first.id, revision: 1))
        #expect(history.apply(.publication(PriceBookEvent(book: second, time: time)), partition: 0, offset: 1)
                == .published(bookID: first.id, revision: 2))
        #expect(history.apply(.publication(PriceBookEvent(book: first, time: time)), partition: 0, offset: 2)
                == .superseded(bookID: first.id, revision: 1, highest: 2))
        #expect(history.apply(.publication(PriceBookEvent(book: second, time: time)), partition: 0, offset: 3)
                == .superseded(bookID: first.id, revision: 2, highest: 2))
        #expect(history.books[first.id]?.revisions.map(\.offset) == [0, 1])
        #expect(history.current(first.id)?.revision == 2)
        #expect(history.apply(.tombstone(bookID: first.id), partition: 0, offset: 4) == .withdrawn(bookID: first.id))
        #expect(history.current(first.id) == nil && history.books[first.id]?.latest?.book.revision == 2)
        var third = first
        third.revision = 3
        _ = history.apply(.publication(PriceBookEvent(book: third, time: time)), partition: 0, offset: 5)
        #expect(history.current(first.id)?.revision == 3 && history.currentBooks.count == 1)
    }
}
