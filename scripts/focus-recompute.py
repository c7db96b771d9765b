#!/usr/bin/env python3
"""Recomputes every cost of exported FOCUS files from a price book, independently of the Swift rater, and compares.

Usage: focus-recompute.py PRICE_BOOK_FILE FOCUS_FILE...   (FOCUS files: .csv.gz or .csv; pass every exported day of
the months to check, since tiers and rounding run from a month's first hour). Python with duckdb and PyYAML
(scripts/setup.sh's venv). Rules: docs/usage-tracking-standard.md section 14. Every number is an exact decimal
(read as text, computed in DuckDB DECIMAL(38, s), never a float); file values are compared by value.

Exit 0: every row agrees (prints rows checked, priced, unpriced). Exit 1: disagreements (file row, column, file value,
recomputed value; the first 20). Exit 2: bad input (unreadable file, missing column, malformed book or value).

Rows of a tenant the book does not name but another book rated (x_PriceBook is another book) and correction rows
(ChargeClass Correction, differences between two ratings) are not recomputed; the summary counts them."""
import datetime
import re
import sys

import duckdb
import yaml

KEY = "hour, tenant, instance, component, metric, unit"  # an hourly total; also the rating order (byte order)
LINE = "period, tenant, instance, component, metric, unit"  # an invoice line
NEEDED = ["ChargePeriodStart", "BillingPeriodStart", "BillingPeriodEnd", "SubAccountId", "ResourceId", "ServiceName",
          "x_Metric", "ConsumedUnit", "ConsumedQuantity", "PricingQuantity", "PricingUnit", "ChargeClass", "SkuId",
          "SkuPriceId", "ListUnitPrice", "ContractedUnitPrice", "BillingCurrency", "ListCost", "ContractedCost",
          "BilledCost", "EffectiveCost", "x_CostStatus", "x_PriceBook", "x_PriceBookRevision", "x_ExactListCost",
          "x_ExactContractedCost"]
# ISO 4217 minor units that are not 2 (Currency.swift's table has the same values).
MINOR = {**dict.fromkeys("BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split(), 0),
         **dict.fromkeys("BHD IQD JOD KWD LYD OMR TND".split(), 3), "CLF": 4, "UYW": 4}


def bad(message):
    print(f"focus-recompute: {message}", file=sys.stderr)
    sys.exit(2)


class ExactLoader(yaml.SafeLoader):
    """YAML (or JSON) with floats and times kept as their text, so `unitPrice: 0.1` stays exactly 0.1."""


ExactLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in ("tag:yaml.org,2002:float", "tag:yaml.org,2002:timestamp")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}


def number(value, decimals, where):
    """Book number as exact decimal text, at most `decimals` fractional digits (so a DECIMAL cast never rounds)."""
    text = str(value)
    if isinstance(value, bool) or not re.fullmatch(r"[0-9]+(\.[0-9]{1,%d})?" % decimals, text):
        bad(f"price book: {where}: {text!r} is not a decimal with at most {decimals} decimals")
    return text


def instant(text, where):
    try:
        t = datetime.datetime.fromisoformat(str(text).replace("z", "Z").replace("Z", "+00:00"))
        if t.tzinfo is not None:
            return t.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    except (ValueError, TypeError):
        pass
    bad(f"price book: {where}: {text!r} is not an RFC 3339 time with an offset")


def sku_id(p):
    """FOCUS SkuId: component/metric, then /provider=P and /instance=I when narrowed (standard, section 14)."""
    return f"{p['component']}/{p['metric']}" + "".join(
        f"/{k}={p[k]}" for k in ("provider", "instance") if p.get(k) is not None)


def load_book(con, path):
    """The book as tables: versions, one row per tier of every price (a flat price is tier 1 from 0), contracts."""
    try:
        with open(path, encoding="utf-8") as f:
            book = yaml.load(f, Loader=ExactLoader)
        bid, revision, currency, versions = book["priceBook"], book["revision"], book["currency"], book["versions"]
    except (OSError, yaml.YAMLError, TypeError, KeyError) as e:
        bad(f"cannot read the price book {path}: {e}")
    if not re.fullmatch(r"[A-Z]{3}", str(currency)):
        bad(f"price book: currency {currency!r} is not an ISO 4217 code")
    con.execute("CREATE TABLE versions (vid VARCHAR, vfrom TIMESTAMP, vto TIMESTAMP)")
    con.execute("CREATE TABLE tiers (vid VARCHAR, sku VARCHAR, component VARCHAR, metric VARCHAR, provider VARCHAR,"
                " inst VARCHAR, sku_unit VARCHAR, specificity INT, tiered BOOLEAN, tier INT, tfrom DECIMAL(38, 6),"
                " tupto DECIMAL(38, 6), list DECIMAL(38, 12))")
    con.execute("CREATE TABLE contracts (vid VARCHAR, tenant VARCHAR, discount DECIMAL(38, 4))")
    con.execute("CREATE TABLE contract_prices (vid VARCHAR, tenant VARCHAR, sku VARCHAR, price DECIMAL(38, 12))")
    try:
        for v in versions:
            vid = str(v["id"])
            con.execute("INSERT INTO versions VALUES (?, ?, ?)", [vid, instant(v["effectiveFrom"], vid),
                        instant(v["effectiveTo"], vid) if v.get("effectiveTo") is not None else None])
            for p in v["prices"]:
                sku = sku_id(p)
                # Most specific wins: instance 4 + provider 2 + a named component 1.
                spec = (4 * (p.get("instance") is not None) + 2 * (p.get("provider") is not None)
                        + (p["component"] != "*"))
                tiers = p.get("tiers") or [{"from": 0, "unitPrice": p["unitPrice"]}]
                for n, t in enumerate(tiers, 1):
                    con.execute("INSERT INTO tiers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [
                        vid, sku, p["component"], p["metric"], p.get("provider"), p.get("instance"), p["unit"], spec,
                        len(tiers) > 1, n, number(t["from"], 6, sku), number(t["upTo"], 6, sku)
                        if t.get("upTo") is not None else None, number(t["unitPrice"], 12, sku)])
            for c in v.get("contracts") or []:
                d = c.get("discountPercent")
                con.execute("INSERT INTO contracts VALUES (?, ?, ?)",
                            [vid, c["tenant"], None if d is None else number(d, 4, c["tenant"])])
                for p in c.get("prices") or []:
                    sku = sku_id(p)
                    con.execute("INSERT INTO contract_prices VALUES (?, ?, ?, ?)",
                                [vid, c["tenant"], sku, number(p["unitPrice"], 12, sku)])
    except (KeyError, TypeError) as e:
        bad(f"price book {path}: missing or malformed entry ({e})")
    return str(bid), str(revision), str(currency), [str(t) for t in book.get("tenants") or []]


def load_rows(con, paths):
    """Every file row (all text) with its file and data row number; checks the columns and the key values."""
    con.execute("CREATE TABLE raw (file VARCHAR, rowno BIGINT, provider VARCHAR, "
                + ", ".join(f'"{c}" VARCHAR' for c in NEEDED) + ")")
    csv = "read_csv(?, header = true, all_varchar = true, delim = ',', quote = '\"', escape = '\"')"
    for path in paths:
        try:
            columns = [d[0] for d in con.execute(f"DESCRIBE SELECT * FROM {csv}", [path]).fetchall()]
            provider = next((c for c in ("x_HostProviderName", "HostProviderName") if c in columns), None)
            missing = [c for c in NEEDED if c not in columns] + ([] if provider else ["x_HostProviderName"])
            if missing:
                bad(f"{path}: missing columns: {', '.join(missing)}")
            con.execute(f"INSERT INTO raw SELECT ?, row_number() OVER (), \"{provider}\", "
                        + ", ".join(f'"{c}"' for c in NEEDED) + f" FROM {csv}", [path, path])
        except duckdb.Error as e:
            bad(f"cannot read {path}: {str(e).splitlines()[0]}")
    malformed = con.execute(r"""SELECT file, rowno, ChargePeriodStart, PricingQuantity FROM raw
        WHERE try_strptime(ChargePeriodStart, '%Y-%m-%dT%H:%M:%SZ') IS NULL
           OR NOT coalesce(regexp_full_match(PricingQuantity, '-?[0-9]+(\.[0-9]{1,6})?'), false) LIMIT 1""").fetchone()
    if malformed:
        bad(f"{malformed[0]}: row {malformed[1]}: ChargePeriodStart {malformed[2]!r} or PricingQuantity "
            f"{malformed[3]!r} is malformed (want YYYY-MM-DDTHH:MM:SSZ and a decimal with at most 6 decimals)")


def main(argv):
    if len(argv) < 3:
        bad("usage: focus-recompute.py PRICE_BOOK_FILE FOCUS_FILE...")
    con = duckdb.connect()
    if len(set(argv[2:])) < len(argv[2:]):
        bad("a FOCUS file is given twice")
    bid, revision, currency, named = load_book(con, argv[1])
    m = MINOR.get(currency, 2)
    con.execute("SET threads = 1")  # one thread while loading keeps row_number() OVER () the file's row order
    load_rows(con, argv[2:])
    con.execute("RESET threads")
    con.execute("CREATE TABLE named AS SELECT unnest(?::VARCHAR[]) AS tenant", [named])
    con.execute(rf"""
    -- Decimal text -> exact value (NULL when not a plain decimal), and an exact value -> text without trailing zeros.
    CREATE MACRO exact(t) AS CASE WHEN regexp_full_match(t, '-?[0-9]+(\.[0-9]{{1,24}})?')
                                THEN TRY_CAST(t AS DECIMAL(38, 24)) END;
    CREATE MACRO txt(d) AS regexp_replace(regexp_replace(CAST(d AS VARCHAR), '(\.[0-9]*?)0+$', '\1'), '\.$', '');

    -- The rows to recompute (not another book's, not corrections), with their total's key.
    CREATE TABLE f AS SELECT *, coalesce(SubAccountId, '') AS tenant, coalesce(ResourceId, '') AS instance,
        coalesce(ServiceName, '') AS component, coalesce(x_Metric, '') AS metric, coalesce(ConsumedUnit, '') AS unit,
        strptime(ChargePeriodStart, '%Y-%m-%dT%H:%M:%SZ') AS hour, CAST(PricingQuantity AS DECIMAL(38, 6)) AS q
      FROM raw WHERE coalesce(ChargeClass, '') <> 'Correction'
        AND NOT (x_PriceBook IS NOT NULL AND x_PriceBook <> '{bid}' AND SubAccountId NOT IN (SELECT tenant FROM named));

    -- Hourly totals: the rows of one total summed (a total split over tiers is one total again).
    CREATE TABLE totals AS SELECT {KEY}, date_trunc('month', hour) AS period, sum(q) AS quantity,
        min(provider) AS provider, count(DISTINCT coalesce(provider, '')) AS providers, count(DISTINCT file) AS files
      FROM f GROUP BY ALL;

    -- The price: the most specific SKU matching the total among the versions in effect at the hour's start (a total
    -- without provider matches only SKUs without provider), and why none when none does, in the rater's order.
    CREATE TABLE rated AS SELECT t.*, s.vid, s.sku, s.tiered, CASE
        WHEN {'true' if named else 'false'} AND t.tenant NOT IN (SELECT tenant FROM named) THEN 'no-price-book'
        WHEN t.quantity < 0 THEN 'negative-quantity'
        WHEN NOT EXISTS (SELECT 1 FROM versions v WHERE v.vfrom <= t.hour AND (v.vto IS NULL OR t.hour < v.vto))
          THEN 'no-price-version'
        WHEN s.sku IS NULL THEN 'no-price'
        WHEN s.sku_unit <> t.unit THEN 'unit-mismatch'
        ELSE 'priced' END AS status
      FROM totals t LEFT JOIN (
        SELECT DISTINCT t.{KEY.replace(', ', ', t.')}, p.vid, p.sku, p.sku_unit, p.specificity, p.tiered
        FROM totals t JOIN versions v ON v.vfrom <= t.hour AND (v.vto IS NULL OR t.hour < v.vto)
        JOIN tiers p ON p.vid = v.vid AND p.metric = t.metric AND p.component IN ('*', t.component)
          AND (p.provider IS NULL OR p.provider = t.provider) AND (p.inst IS NULL OR p.inst = t.instance)
        QUALIFY row_number() OVER (PARTITION BY t.{KEY.replace(', ', ', t.')} ORDER BY p.specificity DESC, p.vid) = 1
      ) s USING ({KEY});

    -- Tier positions: per month, tenant and SKU, the totals laid end to end in rating order (across versions).
    CREATE TABLE positioned AS SELECT *, sum(quantity) OVER (PARTITION BY period, tenant, sku ORDER BY {KEY}
        ROWS UNBOUNDED PRECEDING) AS after FROM rated WHERE status = 'priced';

    -- Charges: the part of [after - quantity, after) in each tier it touches (a zero total: at 0 in its position's
    -- tier); the contracted unit price (contract price, else list x (100 - discount) / 100, else list); exact costs.
    CREATE TABLE charges AS SELECT *, part * list AS exact_list, part * contracted AS exact_contracted FROM (
      SELECT t.*, p.tier, p.list, CASE WHEN t.quantity = 0 THEN 0
          ELSE CASE WHEN p.tupto IS NULL OR t.after < p.tupto THEN t.after ELSE p.tupto END
             - greatest(t.after - t.quantity, p.tfrom) END AS part,
        coalesce(CAST(cp.price AS DECIMAL(38, 18)), p.list * ((100 - c.discount) * CAST(0.01 AS DECIMAL(3, 2))),
                 CAST(p.list AS DECIMAL(38, 18))) AS contracted
      FROM positioned t JOIN tiers p ON p.vid = t.vid AND p.sku = t.sku
      LEFT JOIN contracts c ON c.vid = t.vid AND c.tenant = t.tenant
      LEFT JOIN contract_prices cp ON cp.vid = t.vid AND cp.tenant = t.tenant AND cp.sku = t.sku
      WHERE CASE WHEN t.quantity = 0 THEN p.tfrom <= t.after AND (p.tupto IS NULL OR t.after < p.tupto)
            ELSE greatest(t.after - t.quantity, p.tfrom) < coalesce(least(t.after, p.tupto), t.after) END);

    -- Cumulative half-even rounding per invoice line (rows in rating order, a total's tiers in tier order): a row's
    -- cost is the rounded running exact sum after it minus the rounded running sum before it.
    CREATE TABLE e AS SELECT *, round_even(run_list, {m}) - round_even(run_list - exact_list, {m}) AS list_cost,
        round_even(run_con, {m}) - round_even(run_con - exact_contracted, {m}) AS contracted_cost FROM (
      SELECT *, row_number() OVER (PARTITION BY {KEY} ORDER BY tier) AS ord,
        sum(exact_list) OVER w AS run_list, sum(exact_contracted) OVER w AS run_con FROM charges
      WINDOW w AS (PARTITION BY {LINE} ORDER BY hour, tier ROWS UNBOUNDED PRECEDING))
    UNION ALL BY NAME  -- an unpriced total: one row, its whole quantity, zero costs
    SELECT *, 1 AS ord, quantity AS part, 0 AS list_cost, 0 AS contracted_cost FROM rated WHERE status <> 'priced';

    -- The file's rows of each total numbered in tier order (the SkuPriceId's tier, else the file order).
    CREATE TABLE fo AS SELECT *, row_number() OVER (PARTITION BY {KEY} ORDER BY
        TRY_CAST(regexp_extract(SkuPriceId, ':tier=([0-9]+)$', 1) AS INT) NULLS FIRST, file, rowno) AS ord FROM f;
    """)
    priced = f"e.status = 'priced'"
    u = f"e.status <> 'no-price-book'"  # rows this book rated (priced or not); others carry a fallback currency
    checks = [  # (column, file value, recomputed value as text, comparison: 'd' exact decimal, 's' text)
        ("x_CostStatus", "x_CostStatus", "e.status", "s"),
        ("BillingPeriodStart", "BillingPeriodStart", "strftime(e.period, '%Y-%m-%dT%H:%M:%SZ')", "s"),
        ("BillingPeriodEnd", "BillingPeriodEnd", "strftime(e.period + INTERVAL 1 MONTH, '%Y-%m-%dT%H:%M:%SZ')", "s"),
        ("BillingCurrency", "BillingCurrency", f"CASE WHEN {u} THEN '{currency}' ELSE fo.BillingCurrency END", "s"),
        ("x_PriceBook", "x_PriceBook", f"CASE WHEN {u} THEN '{bid}' END", "s"),
        ("x_PriceBookRevision", "x_PriceBookRevision", f"CASE WHEN {u} THEN '{revision}' END", "s"),
        ("SkuId", "SkuId", f"CASE WHEN {priced} THEN e.sku ELSE fo.SkuId END", "s"),
        ("SkuPriceId", "SkuPriceId", f"CASE WHEN {priced} THEN '{bid}:' || e.vid || ':' || e.sku || CASE WHEN e.tiered"
         " THEN ':tier=' || e.tier ELSE '' END ELSE fo.SkuPriceId END", "s"),
        ("PricingQuantity", "PricingQuantity", "txt(e.part)", "d"),
        ("ConsumedQuantity", "ConsumedQuantity", "txt(e.part)", "d"),
        ("PricingUnit", "PricingUnit", f"CASE WHEN {priced} THEN e.unit ELSE fo.PricingUnit END", "s"),
        ("ListUnitPrice", "ListUnitPrice", f"CASE WHEN {priced} THEN txt(e.list) END", "d"),
        ("ContractedUnitPrice", "ContractedUnitPrice", f"CASE WHEN {priced} THEN txt(e.contracted) END", "d"),
        # unpriced: exact costs 0 or empty
        ("x_ExactListCost", "x_ExactListCost",
         f"CASE WHEN {priced} THEN txt(e.exact_list) WHEN fo.x_ExactListCost IS NOT NULL THEN '0' END", "d"),
        ("x_ExactContractedCost", "x_ExactContractedCost",
         f"CASE WHEN {priced} THEN txt(e.exact_contracted) WHEN fo.x_ExactContractedCost IS NOT NULL THEN '0' END", "d")
    ] + [
        (c, c, "txt(e.list_cost)" if c == "ListCost" else "txt(e.contracted_cost)", "d")
        for c in ("ListCost", "ContractedCost", "BilledCost", "EffectiveCost")]
    structs = ", ".join(
        f"{{'i': {i}, 'col': '{name}', 'fv': fo.{fcol}, 'ev': {ev}, 'ok': coalesce("
        + (f"CASE WHEN ({ev}) IS NULL THEN fo.{fcol} IS NULL ELSE exact(fo.{fcol}) = exact({ev}) END" if kind == "d"
           else f"coalesce(fo.{fcol}, '') = coalesce({ev}, '')")
        + ", false)}" for i, (name, fcol, ev, kind) in enumerate(checks))
    disagreements = con.execute(f"""
    -- Each file row against the recomputed charge of the same total and tier position, column by column.
    WITH cells AS (SELECT file, rowno, {KEY}, ord, unnest([{structs}]) AS c FROM fo JOIN e USING ({KEY}, ord))
    SELECT file, rowno, {KEY}, c.i, c.col, c.fv, c.ev FROM cells WHERE NOT c.ok
    UNION ALL  -- a charge the files lack, or a row no charge explains
    SELECT fo.file, fo.rowno, {KEY}, -1, '(row)', CASE WHEN fo.file IS NULL THEN 'missing' ELSE 'present' END,
        CASE WHEN e.ord IS NULL THEN 'no such charge' ELSE 'charge ' || e.ord || ': PricingQuantity ' || txt(e.part) END
      FROM fo FULL JOIN e USING ({KEY}, ord) WHERE fo.file IS NULL OR e.ord IS NULL
    UNION ALL  -- a total whose rows disagree on the provider, or come from several files (a day passed twice)
    SELECT NULL, NULL, {KEY}, -1, '(total)', 'providers: ' || providers || ', files: ' || files,
        'providers: 1, files: 1'
      FROM totals WHERE providers > 1 OR files > 1
    UNION ALL  -- per tenant, month and currency: the rows' BilledCost add up to the lines' exact sums rounded once
    SELECT NULL, NULL, NULL, tenant, NULL, NULL, NULL, NULL, -1, 'sum of BilledCost ' || strftime(period, '%Y-%m') ||
        ' ' || currency, txt(fs), txt(es) FROM (
      SELECT tenant, period, currency, fs, es FROM
        (SELECT tenant, date_trunc('month', hour) AS period, BillingCurrency AS currency, sum(exact(BilledCost)) AS fs
           FROM f WHERE x_CostStatus = 'priced' OR exact(BilledCost) <> 0 GROUP BY ALL)
        FULL JOIN (SELECT tenant, period, '{currency}' AS currency, sum(line) AS es FROM
          (SELECT {LINE}, round_even(sum(exact_contracted), {m}) AS line FROM e WHERE status = 'priced' GROUP BY ALL)
          GROUP BY ALL) USING (tenant, period, currency))
      WHERE fs IS DISTINCT FROM es
    ORDER BY hour NULLS LAST, tenant, instance, component, metric, unit, rowno NULLS FIRST, 9""").fetchall()
    n, p = con.execute(f"SELECT count(*), count(*) FILTER (status = 'priced') FROM f LEFT JOIN rated USING ({KEY})"
                       ).fetchone()
    skipped = con.execute("SELECT (SELECT count(*) FROM raw) - (SELECT count(*) FROM f)").fetchone()[0]
    lines = con.execute(f"SELECT count(DISTINCT ({LINE})) FROM e WHERE status = 'priced'").fetchone()[0]
    first, last = con.execute("SELECT strftime(min(hour), '%Y-%m-%dT%HZ'), strftime(max(hour), '%Y-%m-%dT%HZ')"
                              " FROM f").fetchone()
    print(f"rows checked {n}, priced {p}, unpriced {n - p} (hours {first or '-'} to {last or '-'}, {lines} invoice"
          f" lines, book {bid}"
          f" revision {revision}, {currency}; {skipped} rows skipped: corrections or other books)")
    if not disagreements:
        print("every cost agrees with the recomputation")
        return 0
    print(f"{len(disagreements)} disagreements (file value vs recomputed):")
    for file, rowno, hour, tenant, instance, component, metric, unit, _, col, fv, ev in disagreements[:20]:
        where = f"{file} row {rowno}" if file else "-"
        total = f"{hour:%Y-%m-%dT%H:%MZ} {tenant}/{instance}/{component}/{metric} {unit}" if hour else tenant
        print(f"  {where}: {total}: {col}: file {fv or ''!r}, recomputed {ev or ''!r}")
    if len(disagreements) > 20:
        print(f"  ... and {len(disagreements) - 20} more")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
