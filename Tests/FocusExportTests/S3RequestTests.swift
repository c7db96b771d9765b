@testable import S3
import Testing

@Suite("S3 requests: canonical URLs for SigV4, destinations, XML answers")
struct S3RequestTests {
    func configuration(pathStyle: Bool = true, endpoint: String = "http://127.0.0.1:9000") -> S3Configuration {
        S3Configuration(endpoint: endpoint, bucket: "billing", pathStyle: pathStyle,
                        credentials: S3Credentials(accessKeyID: "key", secretAccessKey: "secret"))
    }

    @Test("keys are percent-encoded but for unreserved characters and '/', queries sorted and fully encoded")
    func canonicalURL() throws {
        let url = try configuration().url(key: "focus/v1/period=2026-11-25/a b+ü.csv", query: [("uploadId", "x/y"), ("partNumber", "2")])
        #expect(url == "http://127.0.0.1:9000/billing/focus/v1/period%3D2026-11-25/a%20b%2B%C3%BC.csv?partNumber=2&uploadId=x%2Fy")
        #expect(try configuration().url(key: nil, query: [("uploads", ""), ("prefix", "a/")]) == "http://127.0.0.1:9000/billing?prefix=a%2F&uploads=")
        #expect(try configuration(pathStyle: false, endpoint: "https://s3.eu-central-1.amazonaws.com/").url(key: "k", query: [])
                == "https://billing.s3.eu-central-1.amazonaws.com/k")
        #expect(throws: S3Error.self) { try configuration(endpoint: "minio:9000").url(key: "k", query: []) }
        #expect(throws: S3Error.self) { try configuration(endpoint: "http://minio:9000/path").url(key: "k", query: []) }
    }

    @Test("destinations are s3://bucket/prefix/")
    func locations() throws {
        let location = try S3Location("s3://billing/ferris/usage/")
        #expect(location.bucket == "billing")
        #expect(location.prefix == "ferris/usage")
        #expect(location.key("focus/v1/") == "ferris/usage/focus/v1/")
        #expect(location.description == "s3://billing/ferris/usage/")
        #expect(try S3Location("s3://billing").prefix == "")
        for bad in ["billing/x", "s3://", "s3://Bi", "http://billing/x", "s3://UPPER/x"] {
            #expect(throws: S3Error.self, "\(bad)") { try S3Location(bad) }
        }
        #expect(!"\(S3Credentials(accessKeyID: "AKIA", secretAccessKey: "s3cr3t"))".contains("s3cr3t"))
    }

    @Test("XML answers: element text with entities decoded, repeated and empty elements, no prefix confusion")
    func xml() {
        let listing: Substring = """
            <?xml version="1.0"?><ListBucketResult><IsTruncated>true</IsTruncated><NextContinuationToken>t&amp;1</NextContinuationToken>\
            <Contents><Key>a/b&lt;1&gt;</Key><ETag>&#34;abc&#34;</ETag><Size>5</Size></Contents>\
            <Contents><Key>c</Key><ETag>&quot;def&quot;</ETag><Size>7</Size></Contents><KeyCount>2</KeyCount></ListBucketResult>
            """
        #expect(S3XML.values("Key", in: listing) == ["a/b<1>", "c"])
        #expect(S3XML.value("NextContinuationToken", in: listing) == "t&1")
        #expect(S3XML.elements("Contents", in: listing).count == 2)
        #expect(S3XML.values("ETag", in: listing) == ["\"abc\"", "\"def\""])
        #expect(S3XML.value("Key", in: "<KeyCount>2</KeyCount>") == nil)
        #expect(S3XML.values("Delimiter", in: "<Delimiter/><Delimiter></Delimiter>") == ["", ""])
        #expect(S3XML.decode("&#x20AC; &unknown; &") == "€ &unknown; &")
        #expect(S3XML.escape("<a & \"b\">") == "&lt;a &amp; &quot;b&quot;&gt;")
    }
}
