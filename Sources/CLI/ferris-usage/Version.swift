/// The release this binary belongs to: `ferris-usage --version` prints it. It equals the chart's `appVersion` (the
/// default image tag) and the image's `org.opencontainers.image.version`; scripts/build-image.sh refuses to build an
/// image when they differ.
let ferrisUsageVersion = "0.1.0"
