"""What storing a persons file costs DuckDB alone, by storage path (issue 12's floor).

Each case runs in a process of its own (peak memory is that process's maximum resident set
size; `before` is its resident size when the timed part starts, so the input's own memory can
be told from the store's). The input is the bench/ingest.py persons file, already typed as
revops's validation types it (an Arrow table in the persons schema), except for the `csv_*`
cases, where DuckDB's own parallel CSV reader parses and casts the file.

  arrow_pk     INSERT from Arrow into persons as created today (PRIMARY KEY: an ART index)
  arrow_nopk   the same into persons without any primary key or unique index
  csv_pk       read_csv (parallel) straight into persons with the primary key
  csv_nopk     read_csv (parallel) straight into persons without it
  reload_pk    persons holds the file; the file again with 1% of rows changed and 1% new ids,
               applied as revops's `merge` does it (anti-joined INSERT + UPDATE of changed rows)
  reload_nopk  the same statements on a table without the key
  merge_nopk   the same reload as one MERGE INTO (DuckDB 1.4), no key
  arrow_pkafter  arrow_nopk, then the key added in the same transaction (ALTER TABLE ADD
               PRIMARY KEY: the index built in bulk, not row by row)
  arrow_nopk_t1  arrow_nopk on one DuckDB thread
  merge_pk     merge_nopk on persons with its primary key

Usage: python bench/ingest_floor.py [--sizes 1000000,3000000] [--cases arrow_pk,...]
`--check` (CI, seconds): every case at 3,000 rows; each must store exactly the rows it was
given (and the reloads change exactly 1% of them); exit 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

HERE = Path(__file__).resolve()
CASES = (
    "arrow_pk",
    "arrow_nopk",
    "csv_pk",
    "csv_nopk",
    "reload_pk",
    "reload_nopk",
    "merge_nopk",
    "arrow_pkafter",
    "arrow_nopk_t1",
    "merge_pk",
)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def _typed(file: str) -> pa.Table:
    """The file as the persons table's Arrow schema, bad values null (validation's output)."""
    from revops.warehouse import table
    from revops.warehouse.warehouse import arrow_schema

    strings = pacsv.read_csv(
        file, convert_options=pacsv.ConvertOptions(column_types={}, strings_can_be_null=False)
    )
    schema = arrow_schema(table("persons"))
    arrays = []
    for field in schema:
        if field.name not in strings.column_names:
            arrays.append(pa.nulls(strings.num_rows, field.type))
            continue
        col = strings.column(field.name).cast(pa.string())
        if pa.types.is_timestamp(field.type):
            col = pc.strptime(col, "%Y-%m-%d %H:%M:%S", "us", error_is_null=True)
        elif pa.types.is_integer(field.type):
            col = col.cast(pa.int64())
        arrays.append(col)
    return pa.Table.from_arrays(arrays, schema=schema)


def _changed(data: pa.Table) -> pa.Table:
    """The reload: every 100th row's title changed, and 1% more rows under new ids."""
    n = data.num_rows
    title = data.column("title").to_pylist()
    for i in range(0, n, 100):
        title[i] = "Chief Reload Officer"
    reload = data.set_column(data.schema.get_field_index("title"), "title", pa.array(title))
    extra = data.slice(0, n // 100)
    ids = pc.binary_join_element_wise("N", extra.column("person_id"), "")
    extra = extra.set_column(0, "person_id", ids)
    return pa.concat_tables([reload, extra])


def _ddl(con: object, key: bool) -> None:
    """persons as revops creates it, with or without its primary key."""
    from revops.warehouse import table
    from revops.warehouse.warehouse import column_sql_type

    cols = ", ".join(f'"{c.name}" {column_sql_type("duckdb", c)}' for c in table("persons").columns)
    pk = ', PRIMARY KEY ("person_id")' if key else ""
    con.execute("DROP TABLE IF EXISTS persons")  # type: ignore[attr-defined]
    con.execute(f"CREATE TABLE persons ({cols}{pk})")  # type: ignore[attr-defined]


def run(case: str, file: str, db: str) -> dict[str, float]:
    import duckdb

    from revops.warehouse import table

    t = table("persons")
    names = [c.name for c in t.columns]
    cols = ", ".join(f'"{n}"' for n in names)
    con = duckdb.connect(db)
    _ddl(con, key=case.endswith("_pk"))
    if case.endswith("_t1"):
        con.execute("SET threads = 1")
    data = _typed(file) if not case.startswith("csv") else None
    if case.startswith(("reload", "merge")):
        assert data is not None
        con.register("first", data)
        con.execute(f"INSERT INTO persons SELECT {cols} FROM first")
        con.unregister("first")
        con.execute("CHECKPOINT")
        data = _changed(data)
    before = _rss_mb()
    start, cpu = time.perf_counter(), _cpu()
    con.execute("BEGIN TRANSACTION")
    if case.startswith("arrow"):
        con.register("stage", data)
        con.execute(f"INSERT INTO persons SELECT {cols} FROM stage")
        if case == "arrow_pkafter":
            con.execute('ALTER TABLE persons ADD PRIMARY KEY ("person_id")')
    elif case.startswith("csv"):
        header = pacsv.read_csv(file, read_options=pacsv.ReadOptions(block_size=1 << 16))
        present = set(header.column_names)
        typed = ", ".join(
            (
                f'TRY_CAST("{c.name}" AS {"BIGINT" if c.type == "int" else "TIMESTAMP"})'
                if c.type in ("int", "timestamp")
                else f'"{c.name}"'
            )
            if c.name in present
            else "NULL"
            for c in t.columns
        )
        con.execute(
            f"INSERT INTO persons ({cols}) SELECT {typed} "
            "FROM read_csv($file, all_varchar = true, header = true)",
            {"file": file},
        )
    else:
        con.register("stage", data)
        rest = [n for n in names if n != "person_id"]
        differs = " OR ".join(f's."{c}" IS DISTINCT FROM t."{c}"' for c in rest)
        if case.startswith("reload"):
            on = 's."person_id" = t."person_id"'
            joined = f"FROM stage s JOIN persons t ON {on}"
            con.execute(f"SELECT count(*) {joined}").fetchone()
            con.execute(f"SELECT count(*) {joined} WHERE {differs}").fetchone()
            sets = ", ".join(f'"{c}" = s."{c}"' for c in rest)
            con.execute(
                f"UPDATE persons AS t SET {sets} FROM stage AS s WHERE {on} AND ({differs})"
            )
            con.execute(
                f"INSERT INTO persons ({cols}) SELECT {cols} FROM stage s "
                f"WHERE NOT EXISTS (SELECT 1 FROM persons t WHERE {on})"
            )
        else:
            sets = ", ".join(f'"{c}" = s."{c}"' for c in rest)
            values = ", ".join(f's."{n}"' for n in names)
            con.execute(
                f'MERGE INTO persons AS t USING stage AS s ON t."person_id" = s."person_id" '
                f"WHEN MATCHED AND ({differs}) THEN UPDATE SET {sets} "
                f"WHEN NOT MATCHED THEN INSERT ({cols}) VALUES ({values})"
            )
    con.execute("COMMIT")
    seconds, cpu = time.perf_counter() - start, _cpu() - cpu
    row = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE title = 'Chief Reload Officer') FROM persons"
    ).fetchone()
    con.close()
    assert row is not None
    size = Path(db).stat().st_size / 2**20
    return {
        "seconds": seconds,
        "cpu": cpu,
        "rows": float(row[0]),
        "changed": float(row[1]),
        "before_mb": before,
        "file_mb": size,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--sizes", default="1000000,3000000")
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--run", nargs=3, help=argparse.SUPPRESS)
    ap.add_argument(
        "--check", action="store_true", help="every case at 3,000 rows; exit 1 if wrong"
    )
    args = ap.parse_args()
    if args.check:
        args.sizes = "3000"
    if args.run:
        answer = run(*args.run)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps({**answer, "peak_mb": peak}))
        return
    sys.path.insert(0, str(HERE.parent))
    from ingest import generate

    wrong: list[str] = []
    print(f"{'case':>12} {'rows':>10} {'wall s':>7} {'cpu s':>7} {'peak MB':>8} {'pre MB':>7}")
    with tempfile.TemporaryDirectory(prefix="revops-floor-") as tmp:
        for rows in (int(s) for s in args.sizes.split(",")):
            file = Path(tmp) / f"p{rows}.csv"
            generate(file, rows)
            for case in args.cases.split(","):
                db = Path(tmp) / f"{case}_{rows}.duckdb"
                out = subprocess.run(
                    [sys.executable, str(HERE), "--run", case, str(file), str(db)],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
                a = json.loads(out.strip().splitlines()[-1])
                print(
                    f"{case:>12} {rows:>10,} {a['seconds']:7.2f} {a['cpu']:7.2f} "
                    f"{a['peak_mb']:8.0f} {a['before_mb']:7.0f}   rows {a['rows']:,.0f}",
                    flush=True,
                )
                db.unlink()
                reload = case.startswith(("reload", "merge"))
                expect = (rows + rows // 100, len(range(0, rows, 100))) if reload else (rows, 0)
                if (a["rows"], a["changed"]) != expect:
                    wrong.append(
                        f"{case} at {rows:,}: {a['rows']:,.0f} rows, {a['changed']:,.0f} changed"
                    )
            file.unlink()
    if wrong:
        print("check failed: " + "; ".join(wrong))
        sys.exit(1)
    if args.check:
        print("check passed: every storage path stored exactly the rows it was given")


if __name__ == "__main__":
    main()
