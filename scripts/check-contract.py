#!/usr/bin/env python3
"""Checks the machine-readable contract in docs/: the JSON Schemas are valid (draft 2020-12), the standard's
worked examples validate against them (and deliberately broken ones do not), and the AsyncAPI 3.0 document is
well-formed: required fields present, every $ref resolves, every operation names a channel and messages of
that channel, and every referenced schema file exists and is a valid schema. Exit 1 on any problem."""
import copy
import decimal
import json
import pathlib
import sys

import jsonschema
import yaml

DOCS = pathlib.Path(__file__).resolve().parent.parent / "docs"
problems = []


def problem(text):
    problems.append(text)


schemas = {}
for path in sorted((DOCS / "schemas").glob("*.schema.json")):
    schema = json.loads(path.read_text())
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as error:
        problem(f"{path.name}: not a valid draft 2020-12 schema: {error.message}")
    schemas[path.name] = schema


def validator(name):
    schema = schemas[name]
    try:  # jsonschema >= 4.18
        from referencing import Registry, Resource
        registry = Registry().with_resources(
            (s["$id"], Resource.from_contents(s)) for s in schemas.values())
        return jsonschema.Draft202012Validator(schema, registry=registry,
                                               format_checker=jsonschema.FormatChecker())
    except ImportError:  # Debian 12's jsonschema 4.10
        store = {s["$id"]: s for s in schemas.values()}
        resolver = jsonschema.RefResolver(schema["$id"], schema, store=store)
        return jsonschema.Draft202012Validator(schema, resolver=resolver,
                                               format_checker=jsonschema.FormatChecker())


def lines(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


event_validator = validator("usage-event.v1.schema.json")
total_validator = validator("usage-total.v1.schema.json")
examples = sorted((DOCS / "examples").glob("*.events.jsonl"))
if len(examples) < 3:
    problem("docs/examples: expected one events file per seed scenario")
for path in examples:
    for number, event in enumerate(lines(path), 1):
        for error in event_validator.iter_errors(event):
            problem(f"{path.name} line {number}: {error.message}")
    totals = path.with_name(path.name.replace(".events.", ".totals."))
    if not totals.exists():
        problem(f"{totals.name}: missing")
        continue
    for number, total in enumerate(lines(totals), 1):
        for error in total_validator.iter_errors(total):
            problem(f"{totals.name} line {number}: {error.message}")

# The schemas must refuse what the standard refuses (so they are not vacuous).
valid = lines(examples[0])[0]
broken = {
    "no tenant": lambda e: e.pop("tenant"),
    "unknown metric": lambda e: e["data"].update(metric="gpu_seconds"),
    "unit of another metric": lambda e: e["data"].update(unit="Requests"),
    "negative quantity without corrects": lambda e: e["data"].update(quantity=-1),
    "time without seconds": lambda e: e.update(time="2026-11-25T13:00Z"),
    "second 60 (a leap second)": lambda e: e.update(time="2016-12-31T23:59:60Z"),
    "upper-case extension": lambda e: e.update(Region="x"),
    "data and data_base64": lambda e: e.update(data_base64="e30="),
    "other type": lambda e: e.update(type="com.example.other"),
}
for name, mutate in broken.items():
    event = copy.deepcopy(valid)
    mutate(event)
    if event_validator.is_valid(event):
        problem(f"usage-event schema accepts an event with {name}")
correction = copy.deepcopy(valid)
correction["corrects"] = "/ferris/gcp/solo-gcp/kafka#solo-0"
correction["data"]["quantity"] = -1
if not event_validator.is_valid(correction):
    problem("usage-event schema refuses a correction with a negative quantity")

# The quantity bounds, read exactly (as decimals): the largest magnitude the service accepts and one millionth more.
data_schema = json.loads((DOCS / "schemas" / "usage-event-data.v1.schema.json").read_text(), parse_float=decimal.Decimal)
exact = jsonschema.Draft202012Validator(data_schema)
for text, accepted in [("9223372036854.775807", True), ("-9223372036854.775807", True),
                       ("9223372036854.775808", False), ("-9223372036854.775808", False)]:
    data = {"metric": "requests", "unit": "Requests", "quantity": decimal.Decimal(text)}
    if exact.is_valid(data) != accepted:
        problem(f"usage-event-data schema {'refuses' if accepted else 'accepts'} quantity {text}")

# The CloudEvents type system, case by case (docs/examples/type-system.cases.json): the schemas accept the valid values
# and refuse the others, like the service (whose tests run the same cases); every rule is named in the standard.
cases = json.loads((DOCS / "examples" / "type-system.cases.json").read_text())
standard_text = (DOCS / "usage-tracking-standard.md").read_text()
checked_cases = 0
instance_event_validator = validator("instance-event.v1.schema.json")
for group in cases["groups"]:
    if f"\n| {group['rule']} |" not in standard_text:
        problem(f"type-system.cases.json: rule '{group['rule']}' is not a row of the standard's type table")
    values = [(value, True) for value in group["valid"]] + [(value, False) for value in group["invalid"]]
    values = [(json.loads(value), valid) for value, valid in values] if group.get("json") else values
    values += [(json.loads(text), True) for text in group.get("schemaCannotTell", [])]
    for kind in group["events"]:
        check = event_validator if kind == "usage" else instance_event_validator
        for name in group["attributes"]:
            for value, valid in values:
                event = copy.deepcopy(cases["usageEvent" if kind == "usage" else "instanceEvent"])
                if name == "data_base64":
                    event.pop("data")
                event[name] = value
                checked_cases += 1
                if check.is_valid(event) != valid:
                    problem(f"{kind}-event schema {'refuses' if valid else 'accepts'} {name} = {value!r} ({group['rule']})")
if checked_cases < 400:
    problem(f"type-system.cases.json: only {checked_cases} cases")

# Topology files.
topology_validator = validator("topology.v1.schema.json")
topologies = sorted((DOCS.parent / "topologies").glob("*.yaml"))
if len(topologies) < 4:
    problem("topologies/: expected a default topology and one per seed scenario")
for path in topologies:
    for error in topology_validator.iter_errors(yaml.safe_load(path.read_text())):
        problem(f"topologies/{path.name}: {error.message}")
for name, broken_topology in {"an unknown key": {"name": "x", "windows": {}},
                              "a key without tenant": {"name": "x", "key": ["metric"]},
                              "an unknown aggregation": {"name": "x", "aggregate": {"default": "median"}}}.items():
    if topology_validator.is_valid(broken_topology):
        problem(f"topology schema accepts {name}")

# Instance events (standard v1.1): one file per seed scenario, and what the schema must refuse.
instance_validator = validator("instance-event.v1.schema.json")
instance_files = sorted((DOCS / "examples").glob("*.instances.jsonl"))
if len(instance_files) < 3:
    problem("docs/examples: expected one instances file per seed scenario")
for path in instance_files:
    for number, event in enumerate(lines(path), 1):
        for error in instance_validator.iter_errors(event):
            problem(f"{path.name} line {number}: {error.message}")
valid_instance = lines(instance_files[0])[0]
for name, mutate in {
    "no change": lambda e: e["data"].pop("change"),
    "an unknown change": lambda e: e["data"].update(change="moved"),
    "a created instance without tenant": lambda e: e["data"].pop("tenant"),
    "no namespace": lambda e: e["data"]["kubernetes"].update(namespaces=[]),
    "an upper-case namespace": lambda e: e["data"]["kubernetes"].update(namespaces=["Ferris"]),
    "an instance id unusable in a topic name": lambda e: e["data"].update(instance="Team GCP"),
    "a link without accounted": lambda e: e["data"].update(links=[{"name": "x", "component": "x-link"}]),
    "accounted as text": lambda e: e["data"].update(links=[{"name": "x", "component": "x-link", "accounted": "no"}]),
    "the usage type": lambda e: e.update(type="net.ferrislabs.usage.v1"),
    "data_base64": lambda e: e.update(data_base64="e30="),
}.items():
    event = copy.deepcopy(valid_instance)
    mutate(event)
    if instance_validator.is_valid(event):
        problem(f"instance-event schema accepts an event with {name}")
deletion = copy.deepcopy(valid_instance)
deletion["data"] = {"change": "deleted", "instance": deletion["data"]["instance"]}
if not instance_validator.is_valid(deletion):
    problem("instance-event schema refuses a deletion without the instance's description")
if not any(link.get("accounted") is False for path in instance_files for event in lines(path)
           for link in event["data"].get("links", [])):
    problem("docs/examples: the team scenario's link that is not accounted is missing")

# Collector mapping files: the built-in one, and what the schema must refuse. Its metrics are the registry's.
collector_validator = validator("collector.v1.schema.json")
mapping = yaml.safe_load((DOCS.parent / "collector" / "default.yaml").read_text())
for error in collector_validator.iter_errors(mapping):
    problem(f"collector/default.yaml: {error.message}")
registry_metrics = set(schemas["usage-event-data.v1.schema.json"]["properties"]["metric"]["enum"])
mapping_metrics = set(schemas["collector.v1.schema.json"]["properties"]["metrics"]["items"]["properties"]["metric"]["enum"])
if registry_metrics != mapping_metrics:
    problem(f"collector.v1.schema.json: its metrics differ from the registry's: {sorted(registry_metrics ^ mapping_metrics)}")
for name, broken_mapping in {
    "an unknown key": {"metrics": mapping["metrics"], "intervals": "60s"},
    "a PromQL function": {"metrics": [{"metric": "requests", "counter": "rate(x[5m])", "unit": "count"}]},
    "both counter and gauge": {"metrics": [{"metric": "requests", "counter": "x", "gauge": "y", "unit": "count"}]},
    "a metric outside the registry": {"metrics": [{"metric": "gpu_seconds", "counter": "x", "unit": "seconds"}]},
    "requests without their unit": {"metrics": [{"metric": "cpu_core_seconds", "counter": "x", "unit": "seconds", "requests": "y"}]},
}.items():
    if collector_validator.is_valid(broken_mapping):
        problem(f"collector schema accepts a mapping with {name}")

# Price books (standard v1.2, section 14): the example, and what the schema must refuse (the loader, tested in
# UsagePricingTests, checks the same example and the rules a schema cannot express).
price_validator = validator("price-book.v1.schema.json")
price_book = yaml.safe_load((DOCS.parent / "examples" / "price-book.yaml").read_text())
for error in price_validator.iter_errors(price_book):
    problem(f"examples/price-book.yaml: {error.message}")
for name, mutate in {
    "a negative price": lambda b: b["versions"][0]["prices"][0].update(unitPrice="-0.1"),
    "a lower-case currency": lambda b: b.update(currency="eur"),
    "a metric outside the registry": lambda b: b["versions"][0]["prices"][0].update(metric="gpu_seconds"),
    "the unit of another metric": lambda b: b["versions"][0]["prices"][0].update(unit="Requests"),
    "both unitPrice and tiers": lambda b: b["versions"][0]["prices"][0].update(tiers=[{"from": 0, "unitPrice": "1"}]),
    "a price in exponent notation": lambda b: b["versions"][0]["prices"][0].update(unitPrice="1e-5"),
    "a contract without terms": lambda b: b["versions"][0].update(contracts=[{"tenant": "solo"}]),
    "an unknown key": lambda b: b.update(prices=[]),
}.items():
    broken_book = copy.deepcopy(price_book)
    mutate(broken_book)
    if price_validator.is_valid(broken_book):
        problem(f"price-book schema accepts a book with {name}")

# Price book events: the example book published as ferris-usage prices publish sends it, and what the event schema
# must refuse.
price_event_validator = validator("price-book-event.v1.schema.json")
price_event = {"specversion": "1.0", "id": f"{price_book['priceBook']}#{price_book['revision']}", "source": "/ferris-usage/prices",
               "type": "net.ferrislabs.usage.pricebook.v1", "time": "2026-12-01T09:30:00.000Z", "subject": price_book["priceBook"],
               "datacontenttype": "application/json", "data": price_book}
for error in price_event_validator.iter_errors(price_event):
    problem(f"price book event of examples/price-book.yaml: {error.message}")
for name, mutate in {
    "the instance type": lambda e: e.update(type="net.ferrislabs.instance.v1"),
    "an id without the revision": lambda e: e.update(id=price_book["priceBook"]),
    "data_base64": lambda e: e.update(data_base64="e30="),
    "another content type": lambda e: e.update(datacontenttype="text/plain"),
    "a book without versions": lambda e: e["data"].pop("versions"),
}.items():
    broken_event = copy.deepcopy(price_event)
    mutate(broken_event)
    if price_event_validator.is_valid(broken_event):
        problem(f"price-book-event schema accepts an event with {name}")

# Budgets (standard v1.3, section 15): the example file, and what the schema must refuse (the loader, tested in
# UsageBudgetsTests, checks the same file and the rules a schema cannot express).
budget_validator = validator("budget.v1.schema.json")
budgets = yaml.safe_load((DOCS.parent / "examples" / "budgets.yaml").read_text())
for error in budget_validator.iter_errors(budgets):
    problem(f"examples/budgets.yaml: {error.message}")
for name, mutate in {
    "a week period": lambda b: b["budgets"][0].update(period="week"),
    "a threshold above 1000 %": lambda b: b["budgets"][0].update(thresholds=[50, 1200]),
    "an ftp webhook": lambda b: b["budgets"][0].update(webhook={"url": "ftp://example.com", "secret": "s"}),
    "a quantity limit without a metric": lambda b: b["budgets"][0].update(limit={"quantity": "10"}),
    "a cost without its currency": lambda b: b["budgets"][0].update(limit={"cost": "10"}),
    "a metric outside the registry": lambda b: b["budgets"][1]["scope"].update(metric="gpu_seconds"),
    "an upper-case tenant": lambda b: b["budgets"][0].update(tenant="ACME"),
    "the secret itself": lambda b: b["budgets"][0].update(webhook={"url": "https://x.example", "secret": "s", "key": "abc"}),
}.items():
    broken_budgets = copy.deepcopy(budgets)
    mutate(broken_budgets)
    if budget_validator.is_valid(broken_budgets):
        problem(f"budget schema accepts a file with {name}")

# Alert events (section 15): one as the service writes it (UsageBudgetsTests checks the encoder gives this shape),
# and what the schema must refuse.
alert_validator = validator("alert-event.v1.schema.json")
alert_event = {"specversion": "1.0", "id": "hybrid-corp-jupyter/2026-11/threshold-50/fired/1", "source": "/ferris-usage/alerts",
               "type": "net.ferrislabs.usage.alert.v1", "time": "2026-11-07T04:00:00.000Z", "subject": "hybrid-corp-jupyter",
               "datacontenttype": "application/json",
               "data": {"budget": "hybrid-corp-jupyter", "budgetRevision": 1, "tenant": "hybrid-corp",
                        "period": {"name": "2026-11", "start": "2026-11-01T00:00:00.000Z", "end": "2026-12-01T00:00:00.000Z"},
                        "kind": "threshold", "threshold": "50", "state": "fired", "sequence": 1, "figure": "55",
                        "limit": "100", "unit": "Hours", "totals": 1, "latestHourEnd": "2026-11-07T04:00:00.000Z"}}
for error in alert_validator.iter_errors(alert_event):
    problem(f"alert event: {error.message}")
for name, mutate in {
    "a forecast with a threshold": lambda e: e["data"].update(kind="forecast"),
    "a figure as a float": lambda e: e["data"].update(figure=55.5),
    "an id without its sequence": lambda e: e.update(id="hybrid-corp-jupyter/2026-11/threshold-50/fired"),
    "both unit and currency": lambda e: e["data"].update(currency="EUR"),
    "a sequence of 0": lambda e: e["data"].update(sequence=0),
    "another state": lambda e: e["data"].update(state="acknowledged"),
}.items():
    broken_alert = copy.deepcopy(alert_event)
    mutate(broken_alert)
    if alert_validator.is_valid(broken_alert):
        problem(f"alert-event schema accepts an alert with {name}")

# AsyncAPI 3.0.
api = yaml.safe_load((DOCS / "asyncapi.yaml").read_text())


def resolve(reference, base=DOCS):
    file_part, _, pointer = reference.partition("#")
    if file_part:
        target = base / file_part
        if not target.exists():
            problem(f"asyncapi.yaml: $ref {reference}: no file {target.relative_to(DOCS.parent)}")
            return None
        if file_part.endswith(".json") and file_part.split("/")[-1] not in schemas:
            problem(f"asyncapi.yaml: $ref {reference}: not one of the checked schemas")
        return json.loads(target.read_text()) if target.suffix == ".json" else yaml.safe_load(target.read_text())
    node = api
    for part in pointer.strip("/").split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            problem(f"asyncapi.yaml: $ref {reference} does not resolve")
            return None
        node = node[part]
    return node


def walk(node):
    if isinstance(node, dict):
        if "$ref" in node:
            resolve(node["$ref"])
        for value in node.values():
            walk(value)
    elif isinstance(node, list):
        for value in node:
            walk(value)


if api.get("asyncapi") != "3.0.0":
    problem("asyncapi.yaml: asyncapi must be 3.0.0")
for field in ("title", "version"):
    if not api.get("info", {}).get(field):
        problem(f"asyncapi.yaml: info.{field} is required")
walk(api)
channels = api.get("channels", {})
for name, channel in channels.items():
    if "address" not in channel:
        problem(f"asyncapi.yaml: channel {name} has no address")
    if not channel.get("messages"):
        problem(f"asyncapi.yaml: channel {name} has no messages")
for name, operation in api.get("operations", {}).items():
    if operation.get("action") not in ("send", "receive"):
        problem(f"asyncapi.yaml: operation {name}: action must be send or receive")
    channel_ref = operation.get("channel", {}).get("$ref", "")
    if not channel_ref.startswith("#/channels/"):
        problem(f"asyncapi.yaml: operation {name}: channel must reference #/channels/...")
        continue
    for message in operation.get("messages", []):
        if not message.get("$ref", "").startswith(channel_ref + "/messages/"):
            problem(f"asyncapi.yaml: operation {name}: message {message} is not a message of its channel")
for name, message in api.get("components", {}).get("messages", {}).items():
    for part in ("payload", "headers"):
        multi = message.get(part)
        if isinstance(multi, dict) and "schemaFormat" in multi:
            if not multi["schemaFormat"].startswith("application/schema+json"):
                problem(f"asyncapi.yaml: message {name}.{part}: unexpected schemaFormat")
        elif isinstance(multi, dict) and part == "headers":
            try:
                jsonschema.Draft202012Validator.check_schema(multi)
            except jsonschema.SchemaError as error:
                problem(f"asyncapi.yaml: message {name}.headers: {error.message}")

for line in problems:
    print(f"contract: {line}", file=sys.stderr)
print(f"contract: {len(schemas)} schemas, {checked_cases} type-system cases, {len(examples)} example scenarios, {len(instance_files)} instance examples, "
      f"{len(topologies)} topologies, 1 collector mapping, 1 price book, "
      f"{len(api.get('channels', {}))} AsyncAPI channels checked; {len(problems)} problems")
sys.exit(1 if problems else 0)
