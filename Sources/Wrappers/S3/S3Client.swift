import Crypto
import Synchronization

/// An object in a listing.
public struct S3Object: Sendable, Equatable {
    /// The key.
    public var key: String
    /// The size in bytes.
    public var size: Int64
    /// The entity tag, without quotes.
    public var etag: String

    /// Creates a listing entry.
    public init(key: String, size: Int64, etag: String) {
        self.key = key
        self.size = size
        self.etag = etag
    }
}

/// A multipart upload that was started and neither completed nor aborted.
public struct S3PendingUpload: Sendable, Equatable {
    /// The object key it would create.
    public var key: String
    /// The upload id.
    public var uploadID: String
}

/// A small, blocking S3 client: the object and multipart-upload calls an exporter needs, over libcurl with AWS
/// Signature V4. Calls block the calling thread; use it off Swift's cooperative pool. It is safe to share: calls are
/// serialised on one reused connection.
///
/// Every request carries `x-amz-content-sha256` with the SHA-256 of its body, so the signature covers the payload.
public final class S3Client: Sendable {
    /// Where the store is and how requests are signed.
    public let configuration: S3Configuration
    private let handle: Mutex<CurlHandle>
    private let isCancelled: @Sendable () -> Bool

    /// Creates a client. `isCancelled` is polled during transfers: when it turns true, a running transfer is aborted
    /// and the call throws a `.cancelled` error.
    public init(_ configuration: S3Configuration, isCancelled: @escaping @Sendable () -> Bool = { false }) throws(S3Error) {
        _ = try configuration.url(key: nil, query: [])
        self.configuration = configuration
        self.handle = Mutex(try CurlHandle())
        self.isCancelled = isCancelled
    }

    /// Stores `body` under `key`; returns its entity tag.
    @discardableResult
    public func putObject(_ key: String, body: [UInt8], contentType: String) throws(S3Error) -> String {
        let answer = try send("PUT", key: key, body: body, headers: [("Content-Type", contentType)])
        return Self.unquoted(answer.headers["etag"] ?? "")
    }

    /// The object under `key`, or nil when there is none.
    public func getObject(_ key: String) throws(S3Error) -> [UInt8]? {
        do {
            return try send("GET", key: key).body
        } catch where error.status == 404 {
            return nil
        }
    }

    /// Every object whose key starts with `prefix`, in key order.
    public func listObjects(prefix: String) throws(S3Error) -> [S3Object] {
        var objects: [S3Object] = []
        var token: String?
        repeat {
            var query = [("list-type", "2"), ("prefix", prefix)]
            if let token { query.append(("continuation-token", token)) }
            let text = try send("GET", key: nil, query: query).text
            for entry in S3XML.elements("Contents", in: text) {
                guard let key = S3XML.value("Key", in: entry) else { continue }
                objects.append(S3Object(key: key, size: Int64(S3XML.value("Size", in: entry) ?? "") ?? 0,
                                        etag: Self.unquoted(S3XML.value("ETag", in: entry) ?? "")))
            }
            token = S3XML.value("IsTruncated", in: text) == "true" ? S3XML.value("NextContinuationToken", in: text) : nil
        } while token != nil
        return objects
    }

    /// Starts a multipart upload to `key`; returns its upload id.
    public func createMultipartUpload(_ key: String, contentType: String) throws(S3Error) -> String {
        let answer = try send("POST", key: key, query: [("uploads", "")], headers: [("Content-Type", contentType)])
        guard let id = S3XML.value("UploadId", in: answer.text), !id.isEmpty else {
            throw S3Error(.response, "CreateMultipartUpload for \(key) answered without an UploadId")
        }
        return id
    }

    /// Uploads part `number` (from 1) of an upload; returns the part's entity tag. Every part but the last must hold
    /// at least 5 MiB on AWS S3 and MinIO.
    public func uploadPart(_ key: String, uploadID: String, number: Int, body: [UInt8]) throws(S3Error) -> String {
        let answer = try send("PUT", key: key, query: [("partNumber", String(number)), ("uploadId", uploadID)], body: body)
        guard let etag = answer.headers["etag"], !etag.isEmpty else {
            throw S3Error(.response, "UploadPart \(number) of \(key) answered without an ETag")
        }
        return Self.unquoted(etag)
    }

    /// Completes an upload from its parts' entity tags (part 1 first): the object appears only now.
    public func completeMultipartUpload(_ key: String, uploadID: String, parts: [String]) throws(S3Error) {
        var xml = "<CompleteMultipartUpload>"
        for (index, etag) in parts.enumerated() {
            xml += "<Part><PartNumber>\(index + 1)</PartNumber><ETag>\"\(S3XML.escape(etag))\"</ETag></Part>"
        }
        xml += "</CompleteMultipartUpload>"
        // S3 may answer 200 and still report a failure in the body.
        let answer = try send("POST", key: key, query: [("uploadId", uploadID)], body: Array(xml.utf8),
                              headers: [("Content-Type", "application/xml")])
        if let code = S3XML.value("Code", in: answer.text), S3XML.elements("Error", in: answer.text).count > 0 {
            throw error(status: answer.status, code: code, message: S3XML.value("Message", in: answer.text) ?? "",
                        what: "POST \(key) (complete upload)")
        }
    }

    /// Aborts an upload and frees its parts.
    public func abortMultipartUpload(_ key: String, uploadID: String) throws(S3Error) {
        do {
            try send("DELETE", key: key, query: [("uploadId", uploadID)])
        } catch where error.code == "NoSuchUpload" {
            return
        }
    }

    /// Uploads under `prefix` that were started and neither completed nor aborted.
    public func listPendingUploads(prefix: String) throws(S3Error) -> [S3PendingUpload] {
        var uploads: [S3PendingUpload] = []
        var markers: (key: String, upload: String)?
        repeat {
            var query = [("uploads", ""), ("prefix", prefix)]
            if let markers { query += [("key-marker", markers.key), ("upload-id-marker", markers.upload)] }
            let text = try send("GET", key: nil, query: query).text
            for entry in S3XML.elements("Upload", in: text) {
                guard let key = S3XML.value("Key", in: entry), let id = S3XML.value("UploadId", in: entry) else { continue }
                uploads.append(S3PendingUpload(key: key, uploadID: id))
            }
            markers = nil
            if S3XML.value("IsTruncated", in: text) == "true", let key = S3XML.value("NextKeyMarker", in: text),
               let upload = S3XML.value("NextUploadIdMarker", in: text) {
                markers = (key, upload)
            }
        } while markers != nil
        return uploads
    }

    /// Creates the bucket (for local stores and tests); an existing bucket of the same owner is fine.
    public func createBucket() throws(S3Error) {
        let body = configuration.region == "us-east-1" ? "" :
            "<CreateBucketConfiguration><LocationConstraint>\(S3XML.escape(configuration.region))</LocationConstraint></CreateBucketConfiguration>"
        do {
            try send("PUT", key: nil, body: Array(body.utf8))
        } catch where error.code == "BucketAlreadyOwnedByYou" {
            return
        }
    }

    // MARK: Requests

    @discardableResult
    private func send(_ method: String, key: String?, query: [(String, String)] = [], body: [UInt8] = [],
                      headers: [(String, String)] = []) throws(S3Error) -> HTTPAnswer {
        var allHeaders = headers
        allHeaders.append(("x-amz-content-sha256", Self.hex(SHA256.hash(data: body))))
        if let token = configuration.credentials.sessionToken { allHeaders.append(("x-amz-security-token", token)) }
        if !allHeaders.contains(where: { $0.0 == "Content-Type" }) { allHeaders.append(("Content-Type", "application/octet-stream")) }
        // No "Expect:" header to suppress libcurl's `Expect: 100-continue` on large bodies: libcurl 7.88 would sign the
        // emptied header it never sends, and the store would refuse the signature.
        let exchange = HTTPExchange(method: method, url: try configuration.url(key: key, query: query), headers: allHeaders, body: body)
        let configuration = self.configuration
        let isCancelled = self.isCancelled
        let answer = try handle.withLock { handle throws(S3Error) in
            try handle.perform(exchange, region: configuration.region, credentials: configuration.credentials,
                               caFile: configuration.caFile, connectTimeout: configuration.connectTimeout,
                               stallTimeout: configuration.stallTimeout, isCancelled: isCancelled)
        }
        guard (200..<300).contains(answer.status) else {
            let text = answer.text
            throw error(status: answer.status, code: S3XML.value("Code", in: text), message: S3XML.value("Message", in: text) ?? "",
                        what: "\(method) \(key.map { "s3://\(configuration.bucket)/\($0)" } ?? "s3://\(configuration.bucket)")")
        }
        return answer
    }

    private func error(status: Int, code: String?, message: String, what: String) -> S3Error {
        var text = "\(what) failed: HTTP \(status)"
        if let code { text += " \(code)" }
        if !message.isEmpty { text += ": \(message)" }
        if let code, let advice = S3Error.advice(code: code, bucket: configuration.bucket) { text += " (\(advice))" }
        return S3Error(.status, status: status, code: code, text)
    }

    static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var bytes: [UInt8] = []
        for byte in digest {
            bytes.append(digits[Int(byte >> 4)])
            bytes.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func unquoted(_ etag: String) -> String {
        etag.count >= 2 && etag.hasPrefix("\"") && etag.hasSuffix("\"") ? String(etag.dropFirst().dropLast()) : etag
    }
}
