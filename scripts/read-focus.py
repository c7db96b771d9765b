#!/usr/bin/env python3
"""Reads an exported FOCUS file (gzip CSV) with DuckDB and prints, as JSON, what the tests compare with PostgreSQL
and the manifest: the columns with the types DuckDB infers, every row as text with ConsumedQuantity read as
DECIMAL(38,6), the sum of ConsumedQuantity per ConsumedUnit (DECIMAL arithmetic), and the SHA-256 of the file and
of its uncompressed content. Usage: read-focus.py FILE.csv.gz (DuckDB from PyPI; scripts/setup.sh installs it)."""
import gzip
import hashlib
import json
import sys

import duckdb

path = sys.argv[1]
con = duckdb.connect()
inferred = con.execute("DESCRIBE SELECT * FROM read_csv(?, header = true)", [path]).fetchall()
text = "read_csv(?, header = true, all_varchar = true)"
quantity = "CAST(ConsumedQuantity AS DECIMAL(38, 6))"
rows = con.execute(f"SELECT * REPLACE (CAST({quantity} AS VARCHAR) AS ConsumedQuantity) FROM {text}", [path]).fetchall()
sums = con.execute(f"SELECT ConsumedUnit, CAST(sum({quantity}) AS VARCHAR) FROM {text} GROUP BY 1", [path]).fetchall()
with open(path, "rb") as f:
    raw = f.read()
json.dump({
    "columns": [{"name": c[0], "type": c[1]} for c in inferred],
    "rows": [list(r) for r in rows],
    "sums": dict(sums),
    "fileSHA256": hashlib.sha256(raw).hexdigest(),
    "contentSHA256": hashlib.sha256(gzip.decompress(raw)).hexdigest(),
}, sys.stdout)
