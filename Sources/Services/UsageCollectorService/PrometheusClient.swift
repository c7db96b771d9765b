import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import UsageCollector

/// A client of the Prometheus HTTP API (`/api/v1/query`) that reads raw samples: the instant query of a range
/// selector returns every stored sample of the range, unchanged (no function, no extrapolation).
public struct PrometheusClient: Sendable {
    /// The server's base URL, e.g. `http://prometheus.monitoring.svc:9090`.
    public let baseURL: String
    private let http: HTTPClient
    private let timeout: TimeAmount

    /// Creates a client that sends its requests through `http`.
    public init(baseURL: String, http: HTTPClient, timeout: Duration = .seconds(30)) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.http = http
        self.timeout = .milliseconds(Int64(timeout.components.seconds * 1000))
    }

    /// Every raw sample of the series `selector` selects with timestamps in `[from, to)` (ms since the epoch).
    public func rawSamples(_ selector: String, from: Int64, to: Int64) async throws(PrometheusError) -> [Series] {
        // Evaluated at to - 1 ms, the range [to - 1 - d, to - 1] (inclusive in Prometheus 2, left-open in 3) holds the
        // samples of [from, to) (or (from, to) on Prometheus 3, whose lookback then starts one millisecond later).
        let range = max(1, to - 1 - from)
        let body = "query=\(Self.formEncode("\(selector)[\(range)ms]"))&time=\(Self.seconds(to - 1))"
        let response = try await post("/api/v1/query", body: body)
        guard response.status == "success", let data = response.data else {
            throw PrometheusError("query \(selector) failed: \(response.errorType ?? "error"): \(response.error ?? "no reason given")")
        }
        guard data.resultType == "matrix" else {
            throw PrometheusError("query \(selector) returned a \(data.resultType), not raw samples (a matrix); use a plain series selector")
        }
        var result: [Series] = []
        result.reserveCapacity(data.result.count)
        for item in data.result {
            var samples: [Sample] = []
            samples.reserveCapacity(item.values?.count ?? 0)
            for pair in item.values ?? [] {
                // NaN and infinities (e.g. a stale marker's neighbours in broken exporters) carry no usage.
                guard let pico = Sample.pico(Substring(pair.value)) else { continue }
                samples.append(Sample(time: pair.milliseconds, pico: pico))
            }
            result.append(Series(labels: item.metric, samples: samples))
        }
        return result
    }

    /// Whether the server answers `/-/ready` with 200.
    public func isReady() async -> Bool {
        do {
            var request = HTTPClientRequest(url: baseURL + "/-/ready")
            request.method = .GET
            let response = try await http.execute(request, timeout: .seconds(5))
            return response.status == .ok
        } catch {
            return false
        }
    }

    private func post(_ path: String, body: String) async throws(PrometheusError) -> APIResponse {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.body = .bytes(ByteBuffer(string: body))
        let bytes: ByteBuffer
        let status: HTTPResponseStatus
        do {
            let response = try await http.execute(request, timeout: timeout)
            status = response.status
            bytes = try await response.body.collect(upTo: 512 * 1024 * 1024)
        } catch {
            throw PrometheusError("Prometheus at \(baseURL) is unreachable: \(error)")
        }
        do {
            return try JSONDecoder().decode(APIResponse.self, from: Data(buffer: bytes))
        } catch {
            throw PrometheusError("Prometheus at \(baseURL) answered HTTP \(status.code) with something that is not an API response: \(String(buffer: bytes).prefix(200))")
        }
    }

    static func seconds(_ milliseconds: Int64) -> String {
        let fraction = String(milliseconds % 1000)
        return "\(milliseconds / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)"
    }

    static func formEncode(_ text: String) -> String {
        var result = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                result.append(Character(Unicode.Scalar(byte)))
            default:
                result += String(format: "%%%02X", byte)
            }
        }
        return result
    }
}

/// Prometheus could not be asked, or refused the query; says which and why.
public struct PrometheusError: Error, Sendable, CustomStringConvertible {
    /// What went wrong.
    public var description: String
    init(_ description: String) { self.description = description }
}

struct APIResponse: Decodable {
    struct Payload: Decodable {
        var resultType: String
        var result: [Item]
    }

    struct Item: Decodable {
        var metric: [String: String]
        var values: [SamplePair]?
    }

    var status: String
    var data: Payload?
    var errorType: String?
    var error: String?
}

/// `[<unix seconds with up to 3 decimals>, "<value>"]`.
struct SamplePair: Decodable {
    var milliseconds: Int64
    var value: String

    init(from decoder: any Decoder) throws {
        var container = try decoder.unkeyedContainer()
        let seconds = try container.decode(Double.self)
        milliseconds = Int64((seconds * 1000).rounded())
        value = try container.decode(String.self)
    }
}
