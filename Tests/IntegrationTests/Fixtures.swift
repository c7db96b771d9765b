import UsageStandard

func sampleTotal(quantity: Int64, count: Int64, offset: Int64, status: TotalStatus = .provisional) -> UsageTotal {
    UsageTotal(key: UsageKey(tenant: "t'1", instance: "i", component: "c", metric: "m"),
               windowStart: Timestamp(milliseconds: 1_795_611_600_000), windowEnd: Timestamp(milliseconds: 1_795_615_200_000),
               quantity: Quantity(micros: quantity), unit: "u", eventCount: count, status: status,
               sourcePartition: "topic:0", lastOffset: offset)
}
