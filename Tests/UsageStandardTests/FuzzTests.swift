import Testing
@testable import UsageStandard

/// A small seeded generator so that every run explores the same inputs (and a failure can be replayed).
struct Xorshift {
    var state: UInt64
    mutating func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }
    mutating func byte() -> UInt8 { UInt8(truncatingIfNeeded: next()) }
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
}

/// Decodes raw value bytes in `mode` (structured: with the structured content type; binary: with valid ce_ headers).
func decodeRaw(_ value: [UInt8]?, _ mode: CloudEventMode, headers extra: [(String, [UInt8]?)] = []) -> Result<UsageEvent, UsageDecodeError> {
    var spec = EventSpec()
    spec.extraHeaders = extra
    var (headers, _) = spec.record(mode)
    if mode == .structured { headers = [("content-type", Array("application/cloudevents+json".utf8))] + extra }
    return withOptional(value) { bytes in
        UsageEventDecoder().decode(headers: RawHeaders(list: headers), value: bytes, referenceTime: spec.referenceTime)
    }
}

@Suite("Decoder fuzzing: hostile input is rejected with a reason, never a crash or a hang")
struct FuzzTests {
    @Test("random bytes", arguments: CloudEventMode.allCases)
    func randomBytes(mode: CloudEventMode) {
        var rng = Xorshift(state: 0x9E37_79B9_7F4A_7C15)
        for _ in 0..<20_000 {
            let bytes = (0..<rng.below(300)).map { _ in rng.byte() }
            guard case .failure(let error) = decodeRaw(bytes, mode) else {
                Issue.record("accepted random bytes \(bytes)")
                return
            }
            #expect(!error.problem.isEmpty)
        }
    }

    @Test("random JSON-ish text built from JSON's own characters", arguments: CloudEventMode.allCases)
    func jsonAlphabet(mode: CloudEventMode) {
        let alphabet = Array(#"{}[]":,.-+eE0123456789 truefalsnl\u"#.utf8)
        var rng = Xorshift(state: 42)
        for _ in 0..<20_000 {
            let bytes = (0..<rng.below(120)).map { _ in alphabet[rng.below(alphabet.count)] }
            if case .success(let event) = decodeRaw(bytes, mode) { Issue.record("accepted \(event)") }
        }
    }

    @Test("every truncation of a valid event is rejected", arguments: CloudEventMode.allCases)
    func truncations(mode: CloudEventMode) throws {
        let (_, value) = EventSpec().record(mode)
        let full = try #require(value)
        #expect((try? decodeRaw(full, mode).get()) != nil)
        for length in 0..<full.count {
            if case .success = decodeRaw(Array(full.prefix(length)), mode) { Issue.record("accepted a prefix of \(length) bytes") }
        }
    }

    @Test("single-byte mutations never crash, and decode and findings agree", arguments: CloudEventMode.allCases)
    func mutations(mode: CloudEventMode) throws {
        var rng = Xorshift(state: 7)
        for _ in 0..<3_000 {
            var spec = EventSpec()
            var (headers, value) = spec.record(mode)
            var bytes = try #require(value)
            bytes[rng.below(bytes.count)] = rng.byte()
            value = bytes
            spec.extraHeaders = []
            let decoder = UsageEventDecoder()
            let (one, all) = withOptional(value) { buffer in
                (decoder.decode(headers: RawHeaders(list: headers), value: buffer, referenceTime: spec.referenceTime),
                 decoder.findings(headers: RawHeaders(list: headers), value: buffer, referenceTime: spec.referenceTime))
            }
            switch one {
            case .success: #expect(all.isEmpty)
            case .failure(let error): #expect(all.first == error)
            }
            _ = withOptional(value) { buffer in
                expectFastPathAgrees(decoder, RawHeaders(list: headers), key: nil, value: buffer,
                                     referenceTime: spec.referenceTime, one)
            }
            headers.removeAll()
        }
    }

    @Test("single-byte mutations of binary-mode headers: the allocation-free path declines or agrees")
    func headerMutations() {
        var rng = Xorshift(state: 11)
        var taken = 0
        for _ in 0..<5_000 {
            var spec = EventSpec()
            spec.contentType = "application/json"
            spec.set("provider", #""gcp""#)
            var (headers, value) = spec.record(.binary)
            let index = rng.below(headers.count)
            if var bytes = headers[index].1, !bytes.isEmpty, rng.below(4) != 0 {
                bytes[rng.below(bytes.count)] = rng.below(2) == 0 ? rng.byte() : UInt8(ascii: "a") + UInt8(rng.below(26))
                headers[index].1 = bytes
            } else {
                var name = Array(headers[index].0.utf8)
                name[rng.below(name.count)] = rng.byte()
                headers[index].0 = String(decoding: name, as: UTF8.self)
            }
            let decoder = UsageEventDecoder()
            let key = Array("solo".utf8)
            key.withUnsafeBytes { keyBytes in
                withOptional(value) { buffer in
                    let general = decoder.decode(headers: RawHeaders(list: headers), key: keyBytes, value: buffer,
                                                 referenceTime: spec.referenceTime)
                    if expectFastPathAgrees(decoder, RawHeaders(list: headers), key: keyBytes, value: buffer,
                                            referenceTime: spec.referenceTime, general) { taken += 1 }
                }
            }
            value = nil
        }
        // Mutations that keep the event valid (e.g. another tenant letter) still take the fast path.
        #expect(taken > 100)
    }

    @Test("single-byte mutations of structured-mode events: the allocation-free path declines or agrees, and takes those still valid")
    func structuredMutations() throws {
        var rng = Xorshift(state: 13)
        var taken = 0, valid = 0
        var spec = EventSpec()
        spec.set("provider", #""gcp""#)
        spec.set("subject", #""pod/api-7""#)
        spec.set("region", #""europe-west1""#)
        spec.set("datacontenttype", #""application/json""#)
        let (headers, original) = spec.record(.structured)
        #expect(takesFastPath(spec, .structured), "the unmutated event takes the allocation-free path")
        for _ in 0..<5_000 {
            var bytes = try #require(original)
            // Mostly letters (values that stay valid), sometimes any byte (broken JSON, control characters, UTF-8).
            bytes[rng.below(bytes.count)] = rng.below(3) == 0 ? rng.byte() : UInt8(ascii: "a") + UInt8(rng.below(26))
            let decoder = UsageEventDecoder()
            Array("solo".utf8).withUnsafeBytes { key in
                bytes.withUnsafeBytes { buffer in
                    let general = decoder.decode(headers: RawHeaders(list: headers), key: key, value: buffer,
                                                 referenceTime: spec.referenceTime)
                    if case .success = general { valid += 1 }
                    if expectFastPathAgrees(decoder, RawHeaders(list: headers), key: key, value: buffer,
                                            referenceTime: spec.referenceTime, general) { taken += 1 }
                }
            }
        }
        // Mutations that keep the event valid (another letter in an id or a subject) still take the fast path.
        #expect(taken > 500 && taken <= valid, "\(taken) of \(valid) valid mutations took the allocation-free path")
    }

    @Test("deep nesting is refused quickly", arguments: CloudEventMode.allCases)
    func deepNesting(mode: CloudEventMode) {
        // Half a million levels: only the depth limit (not the size limit) stands between this and a stack overflow.
        let deep = String(repeating: "[", count: 500_000) + String(repeating: "]", count: 500_000)
        let data = #"{"metric":"requests","quantity":1,"unit":"Requests","x":"# + deep + "}"
        var spec = EventSpec()
        spec.data = data
        let (headers, value) = spec.record(mode)
        let decoder = UsageEventDecoder(policy: .init(maxEventBytes: 4 << 20))
        let result = withOptional(value) { decoder.decode(headers: RawHeaders(list: headers), value: $0) }
        guard case .failure(let error) = result else { Issue.record("accepted"); return }
        #expect(error.reason == .malformedJSON)
    }

    @Test("huge numbers are refused as quantities", arguments: [
        String(repeating: "9", count: 100_000), "1" + String(repeating: "0", count: 30), "1e999999999", "-1e-999999999",
        "0." + String(repeating: "0", count: 10_000) + "1", "123456789012345678901234567890.5",
    ])
    func hugeNumbers(number: String) {
        var spec = EventSpec()
        spec.data = #"{"metric":"requests","quantity":\#(number),"unit":"Requests"}"#
        let result = check(spec, .binary)
        guard case .failure(let error) = result else { Issue.record("accepted \(number.prefix(40))"); return }
        #expect(error.reason == .invalidQuantity || error.reason == .tooLarge)
    }

    @Test("a 1 MB value is refused without being parsed", arguments: CloudEventMode.allCases)
    func oneMegabyte(mode: CloudEventMode) {
        var spec = EventSpec()
        spec.set("padding", "\"" + String(repeating: "x", count: 1 << 20) + "\"")
        spec.data = #"{"metric":"requests","quantity":1,"unit":"Requests","pad":"\#(String(repeating: "y", count: 1 << 20))"}"#
        guard case .failure(let error) = check(spec, mode) else { Issue.record("accepted"); return }
        #expect(error.reason == .tooLarge)
    }

    @Test("random bytes in attribute headers: not UTF-8 is invalid-encoding, not a CloudEvents String invalid-attribute")
    func randomHeaderBytes() {
        var rng = Xorshift(state: 99)
        for _ in 0..<5_000 {
            let bytes = (0..<rng.below(16)).map { _ in rng.byte() }
            let result = decodeRaw(EventSpec().record(.binary).value, .binary, headers: [("ce_region", bytes)])
            let text = String(validating: bytes, as: UTF8.self)
            switch result {
            case .success: #expect(text.map(TypeSystemFuzzTests.isCloudEventsString) == true, "accepted \(bytes)")
            case .failure(let error):
                #expect(error.reason == (text == nil ? .invalidEncoding : .invalidAttribute), "\(bytes): \(error)")
                #expect(text.map(TypeSystemFuzzTests.isCloudEventsString) != true, "refused \(bytes): \(error)")
            }
        }
    }

    @Test("random duplicate data keys are refused")
    func duplicateDataKeys() {
        for key in ["metric", "quantity", "unit"] {
            var spec = EventSpec()
            spec.data = #"{"metric":"requests","quantity":1,"unit":"Requests","\#(key)":"#
                + (key == "quantity" ? "2" : #""x""#) + "}"
            for mode in CloudEventMode.allCases {
                guard case .failure(let error) = check(spec, mode) else { Issue.record("accepted duplicate \(key)"); continue }
                #expect(error.reason == .duplicateAttribute)
            }
        }
    }
}
