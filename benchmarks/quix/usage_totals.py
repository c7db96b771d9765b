"""The same accounting in Quix Streams, for the end-to-end comparison (benchmarks/end-to-end.sh runs it).

Reads binary-mode usage CloudEvents (attributes in ce_ headers, data JSON in the value) from the input topic, drops
events tagged scope=out, keys them by tenant/instance/component/metric (group_by: Quix windows are per message key,
so re-keying goes through a repartition topic), sums quantities (in millionths, exactly) in hourly tumbling windows by
event time with one hour of grace, and writes the totals to an output topic, exactly-once.

  python usage_totals.py --brokers HOST:PORT --topic ferris.events.fleet --output quix.totals [--final] [--idle 5]

--final emits only final totals when a window closes (Quix's .final()); the default emits the running total on every
update (.current()), which is what ferris-usage's provisional totals correspond to. Prints one line:
`quix: N records, S s first record to last commit, R records/s`.
"""

import argparse
import datetime
import json
import time
import uuid

from quixstreams import Application


def parse_args():
    parser = argparse.ArgumentParser()
    parser.add_argument("--brokers", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--final", action="store_true")
    parser.add_argument("--idle", type=float, default=5.0, help="stop after this many seconds without a new record")
    return parser.parse_args()


def header(headers, name):
    for key, value in headers or ():
        if key == name:
            return value.decode()
    return None


def event_time(value, headers, timestamp, timestamp_type):
    text = header(headers, "ce_time")
    return int(datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def main():
    args = parse_args()
    app = Application(
        broker_address=args.brokers,
        consumer_group=f"quix-bench-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        processing_guarantee="exactly-once",
        commit_interval=1.0,
        state_dir=f"/tmp/quix-state-{uuid.uuid4().hex[:8]}",
        loglevel="WARNING",
    )
    source = app.topic(args.topic, value_deserializer="json", key_deserializer="str", timestamp_extractor=event_time)
    output = app.topic(args.output, value_serializer="json", key_serializer="str")

    seen = {"first": None, "last": None, "records": 0}

    def observe(value, key, timestamp, headers):
        now = time.monotonic()
        if seen["first"] is None:
            seen["first"] = now
        seen["last"] = now
        seen["records"] += 1
        return {
            "scope": header(headers, "ce_scope") or "in",
            "key": "/".join([header(headers, "ce_tenant"), header(headers, "ce_instance"),
                             header(headers, "ce_component"), value["metric"]]),
            "micros": round(value["quantity"] * 1_000_000),
        }

    sdf = app.dataframe(source)
    sdf = sdf.apply(observe, metadata=True)
    sdf = sdf.filter(lambda row: row["scope"] != "out")
    sdf = sdf.group_by(lambda row: row["key"], name="usage-key")
    sdf = sdf.apply(lambda row: row["micros"])
    windows = sdf.tumbling_window(duration_ms=3_600_000, grace_ms=3_600_000).sum()
    sdf = windows.final() if args.final else windows.current()
    sdf.to_topic(output)

    app.run(timeout=args.idle, collect=False)
    ended = time.monotonic()
    if seen["first"] is None:
        print("quix: no records read")
        return
    # run() returned after `idle` seconds without a record and a final commit: take the idle wait out.
    seconds = max(ended - seen["first"] - args.idle, seen["last"] - seen["first"])
    print(f"quix: {seen['records']} records, {seconds:.2f} s first record to last commit, "
          f"{seen['records'] / seconds:.0f} records/s ({'final' if args.final else 'per-update'} output)")


if __name__ == "__main__":
    main()
