import CCurl

/// One HTTP exchange with the store.
struct HTTPExchange {
    /// The method, e.g. `PUT`.
    var method: String
    /// The full URL, already in SigV4's canonical form (see `S3Configuration.url`).
    var url: String
    /// Request headers besides the signature's.
    var headers: [(String, String)]
    /// The request body (empty for none).
    var body: [UInt8]
}

/// What the store answered.
struct HTTPAnswer {
    /// The HTTP status.
    var status: Int
    /// Response headers, names in lower case.
    var headers: [String: String]
    /// The response body.
    var body: [UInt8]

    var text: Substring { Substring(String(decoding: body, as: UTF8.self)) }
}

/// A libcurl easy handle: blocking, for one thread at a time. libcurl signs each request itself
/// (`CURLOPT_AWS_SIGV4`, in libcurl since 7.75), so no signing code lives here; the handle is reset and reused so
/// that its connection cache keeps connections to the store open between requests.
final class CurlHandle {
    private let handle: UnsafeMutableRawPointer

    /// Whether libcurl's global state is set up (done once, before any handle).
    private static let globalInit: CURLcode = ferris_curl_global_init()

    init() throws(S3Error) {
        guard Self.globalInit == CURLE_OK, let handle = curl_easy_init() else {
            throw S3Error(.transport, "libcurl could not be initialised (out of memory?)")
        }
        self.handle = handle
    }

    deinit { curl_easy_cleanup(handle) }

    /// Collects the answer while libcurl runs; reached from its C callbacks through an unretained pointer.
    private final class Transfer {
        var body: [UInt8] = []
        var headers: [String: String] = [:]
        let isCancelled: () -> Bool
        init(isCancelled: @escaping () -> Bool) { self.isCancelled = isCancelled }
    }

    /// Performs `exchange`, signed with `credentials` for `region`. `isCancelled` is polled during the transfer; when
    /// it turns true the transfer is aborted with a `.cancelled` error.
    func perform(_ exchange: HTTPExchange, region: String, credentials: S3Credentials, caFile: String?,
                 connectTimeout: Duration, stallTimeout: Duration, isCancelled: @escaping () -> Bool) throws(S3Error) -> HTTPAnswer {
        curl_easy_reset(handle)
        let transfer = Transfer(isCancelled: isCancelled)
        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        var headerList: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(headerList) }
        for (name, value) in exchange.headers {
            headerList = curl_slist_append(headerList, value.isEmpty ? "\(name):" : "\(name): \(value)")
        }
        let code: CURLcode = withExtendedLifetime(transfer) {
            let context = Unmanaged.passUnretained(transfer).toOpaque()
            return exchange.body.withUnsafeBytes { body in
                errorBuffer.withUnsafeMutableBufferPointer { errors in
                    var setup = [
                        ferris_curl_setopt_string(handle, CURLOPT_URL, exchange.url),
                        ferris_curl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, exchange.method),
                        ferris_curl_setopt_string(handle, CURLOPT_AWS_SIGV4, "aws:amz:\(region):s3"),
                        ferris_curl_setopt_string(handle, CURLOPT_USERNAME, credentials.accessKeyID),
                        ferris_curl_setopt_string(handle, CURLOPT_PASSWORD, credentials.secretAccessKey),
                        ferris_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1),
                        ferris_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, Self.milliseconds(connectTimeout)),
                        ferris_curl_setopt_long(handle, CURLOPT_LOW_SPEED_LIMIT, 1),
                        ferris_curl_setopt_long(handle, CURLOPT_LOW_SPEED_TIME, max(1, Self.milliseconds(stallTimeout) / 1000)),
                        ferris_curl_setopt_pointer(handle, CURLOPT_HTTPHEADER, headerList),
                        ferris_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errors.baseAddress),
                        ferris_curl_setopt_write_callback(handle, CURLOPT_WRITEFUNCTION) { data, size, count, context in
                            guard let data, let context else { return 0 }
                            let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
                            data.withMemoryRebound(to: UInt8.self, capacity: size * count) { bytes in
                                transfer.body.append(contentsOf: UnsafeBufferPointer(start: bytes, count: size * count))
                            }
                            return size * count
                        },
                        ferris_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, context),
                        ferris_curl_setopt_write_callback(handle, CURLOPT_HEADERFUNCTION) { data, size, count, context in
                            guard let data, let context else { return 0 }
                            let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
                            let line = data.withMemoryRebound(to: UInt8.self, capacity: size * count) { bytes in
                                String(decoding: UnsafeBufferPointer(start: bytes, count: size * count), as: UTF8.self)
                            }
                            if let colon = line.firstIndex(of: ":") {
                                let name = line[..<colon].lowercased()
                                let value = line[line.index(after: colon)...].trimmingSpaces()
                                transfer.headers[name] = value
                            }
                            return size * count
                        },
                        ferris_curl_setopt_pointer(handle, CURLOPT_HEADERDATA, context),
                        ferris_curl_setopt_long(handle, CURLOPT_NOPROGRESS, 0),
                        ferris_curl_setopt_xferinfo_callback(handle) { context, _, _, _, _ in
                            guard let context else { return 0 }
                            return Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue().isCancelled() ? 1 : 0
                        },
                        ferris_curl_setopt_pointer(handle, CURLOPT_XFERINFODATA, context),
                    ]
                    if let caFile { setup.append(ferris_curl_setopt_string(handle, CURLOPT_CAINFO, caFile)) }
                    if exchange.method == "PUT" || exchange.method == "POST" {
                        // The body goes out from this buffer as it is (no copy); a PUT with POSTFIELDS is still a PUT
                        // because of CURLOPT_CUSTOMREQUEST.
                        setup.append(ferris_curl_setopt_off_t(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count)))
                        if let bytes = body.baseAddress {
                            setup.append(ferris_curl_setopt_pointer(handle, CURLOPT_POSTFIELDS, bytes))
                        } else {
                            setup.append(ferris_curl_setopt_string(handle, CURLOPT_COPYPOSTFIELDS, ""))
                        }
                    }
                    if let failed = setup.first(where: { $0 != CURLE_OK }) { return failed }
                    return curl_easy_perform(handle)
                }
            }
        }
        guard code == CURLE_OK else {
            if code == CURLE_ABORTED_BY_CALLBACK {
                throw S3Error(.cancelled, "\(exchange.method) \(Self.redactedQuery(exchange.url)) cancelled")
            }
            let detail = String(decoding: errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let reason = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
            throw S3Error(.transport, "\(exchange.method) \(Self.redactedQuery(exchange.url)) failed: \(reason); check the S3 endpoint and that the store is reachable")
        }
        var status = 0
        _ = ferris_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return HTTPAnswer(status: status, headers: transfer.headers, body: transfer.body)
    }

    private static func milliseconds(_ duration: Duration) -> Int {
        Int(duration.components.seconds) * 1000 + Int(duration.components.attoseconds / 1_000_000_000_000_000)
    }

    /// The URL without its query (upload ids and continuation tokens are noise in messages).
    static func redactedQuery(_ url: String) -> String {
        String(url.prefix { $0 != "?" })
    }
}

extension Substring {
    func trimmingSpaces() -> String {
        var text = self
        while let first = text.first, first.isWhitespace { text.removeFirst() }
        while let last = text.last, last.isWhitespace { text.removeLast() }
        return String(text)
    }
}
