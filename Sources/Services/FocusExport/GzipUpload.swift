import CompressNIO
import Crypto
import NIOCore
import S3

/// Streams CSV bytes into one gzip object in S3: compresses as the bytes come, hashes the uncompressed content
/// (its identity) and the compressed object (its checksum), and sends the object as one PUT when it stays under
/// `partSize`, else as a multipart upload of `partSize` parts started as soon as the first part is full. Nothing is
/// visible in the bucket before `commit()`: a multipart upload only shows its object once completed, and
/// `discard()` aborts it.
final class GzipUpload {
    private let client: S3Client
    private let key: String
    private let partSize: Int
    private let onPart: (Int) -> Void
    private let compressor: NIOCompressor
    private var pending: [UInt8] = []
    private var uploadID: String?
    private var partETags: [String] = []
    private var contentHash = SHA256()
    private var objectHash = SHA256()
    private(set) var objectBytes = 0
    private var finished = false

    static let mediaType = "application/gzip"

    /// Starts an upload to `key`; `onPart` is called with each part's number once the part is stored.
    init(client: S3Client, key: String, partSize: Int, onPart: @escaping (Int) -> Void) throws(ExportError) {
        self.client = client
        self.key = key
        self.partSize = partSize
        self.onPart = onPart
        compressor = CompressionAlgorithm.gzip().compressor
        compressor.window = ByteBufferAllocator().buffer(capacity: 64 * 1024)
        do {
            try compressor.startStream()
        } catch {
            throw ExportError("gzip could not start: \(error)")
        }
    }

    /// Adds uncompressed bytes.
    func write(_ bytes: [UInt8]) throws(ExportError) {
        precondition(!finished, "write after finish")
        contentHash.update(data: bytes)
        var input = ByteBuffer(bytes: bytes)
        try compress(&input, flush: .no)
    }

    /// Flushes the compressor; returns the SHA-256 of everything written (uncompressed), hex.
    func finish() throws(ExportError) -> String {
        var empty = ByteBuffer()
        try compress(&empty, flush: .finish)
        do {
            try compressor.finishStream()
        } catch {
            throw ExportError("gzip could not finish: \(error)")
        }
        finished = true
        return contentHash.finalize().hex
    }

    /// Makes the object visible; returns the SHA-256 of the object, hex.
    func commit() throws(ExportError) -> String {
        precondition(finished, "commit before finish")
        do {
            if let uploadID {
                if !pending.isEmpty { try sendPart() }
                try client.completeMultipartUpload(key, uploadID: uploadID, parts: partETags)
            } else {
                try client.putObject(key, body: pending, contentType: Self.mediaType)
            }
        } catch {
            throw ExportError("writing \(key): \(error)", isCredentials: error.isCredentialsError)
        }
        return objectHash.finalize().hex
    }

    /// Drops what was uploaded (aborts a started multipart upload); best effort, for when the export stops or its
    /// content turned out unchanged.
    func discard() {
        if let uploadID { try? client.abortMultipartUpload(key, uploadID: uploadID) }
        uploadID = nil
    }

    private func compress(_ input: inout ByteBuffer, flush: CompressNIOFlush) throws(ExportError) {
        do {
            try input.compressStream(with: compressor, flush: flush) { output in
                var output = output
                let bytes = output.readBytes(length: output.readableBytes) ?? []
                objectHash.update(data: bytes)
                objectBytes += bytes.count
                pending += bytes
            }
            if pending.count >= partSize { try sendPart() }
        } catch let error as ExportError {
            throw error
        } catch let error as S3Error {
            throw ExportError("uploading \(key): \(error)", isCredentials: error.isCredentialsError)
        } catch {
            throw ExportError("gzip failed: \(error)")
        }
    }

    private func sendPart() throws(S3Error) {
        let id: String
        if let uploadID {
            id = uploadID
        } else {
            id = try client.createMultipartUpload(key, contentType: Self.mediaType)
            uploadID = id
        }
        partETags.append(try client.uploadPart(key, uploadID: id, number: partETags.count + 1, body: pending))
        pending.removeAll(keepingCapacity: true)
        onPart(partETags.count)
    }
}

extension SHA256.Digest {
    /// The digest as lower-case hex.
    var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var bytes: [UInt8] = []
        for byte in self {
            bytes.append(digits[Int(byte >> 4)])
            bytes.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// An export failure, saying what failed and what to do.
public struct ExportError: Error, CustomStringConvertible, Sendable {
    /// What was wrong and what to do.
    public let message: String
    /// Whether the store refused the credentials (retrying will not help until they are fixed).
    public let isCredentials: Bool

    /// Creates an error.
    public init(_ message: String, isCredentials: Bool = false) {
        self.message = message
        self.isCredentials = isCredentials
    }

    public var description: String { message }
}
