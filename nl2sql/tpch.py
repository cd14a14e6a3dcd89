"""TPC-H, a real orders schema nobody here wrote: its tables with their keys declared, and
``build_tpch`` that generates it offline with DuckDB's ``dbgen`` and copies it into SQLite,
PostgreSQL or DuckDB. Its meaning (tenant, words, descriptions) lives in ``configs/tpch.toml``,
as it would for any user's database.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
from sqlalchemy import (
    Column,
    Date,
    Engine,
    ForeignKeyConstraint,
    Integer,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Table,
    func,
    inspect,
    select,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

from nl2sql import database
from nl2sql.errors import ConfigError, DatabaseError, DatabaseNotEmptyError

metadata = MetaData()


def _money(name: str) -> Column[Any]:
    return Column(name, Numeric(15, 2), nullable=False)


def _text(name: str, length: int) -> Column[Any]:
    return Column(name, String(length), nullable=False)


def _key(name: str) -> Column[Any]:
    return Column(name, Integer, nullable=False)


Table(
    "region",
    metadata,
    Column("r_regionkey", Integer, primary_key=True, autoincrement=False),
    _text("r_name", 25),
    _text("r_comment", 152),
)
Table(
    "nation",
    metadata,
    Column("n_nationkey", Integer, primary_key=True, autoincrement=False),
    _text("n_name", 25),
    _key("n_regionkey"),
    _text("n_comment", 152),
    ForeignKeyConstraint(["n_regionkey"], ["region.r_regionkey"]),
)
Table(
    "part",
    metadata,
    Column("p_partkey", Integer, primary_key=True, autoincrement=False),
    _text("p_name", 55),
    _text("p_mfgr", 25),
    _text("p_brand", 10),
    _text("p_type", 25),
    Column("p_size", Integer, nullable=False),
    _text("p_container", 10),
    _money("p_retailprice"),
    _text("p_comment", 23),
)
Table(
    "supplier",
    metadata,
    Column("s_suppkey", Integer, primary_key=True, autoincrement=False),
    _text("s_name", 25),
    _text("s_address", 40),
    _key("s_nationkey"),
    _text("s_phone", 15),
    _money("s_acctbal"),
    _text("s_comment", 101),
    ForeignKeyConstraint(["s_nationkey"], ["nation.n_nationkey"]),
)
Table(
    "partsupp",
    metadata,
    _key("ps_partkey"),
    _key("ps_suppkey"),
    Column("ps_availqty", Integer, nullable=False),
    _money("ps_supplycost"),
    _text("ps_comment", 199),
    PrimaryKeyConstraint("ps_partkey", "ps_suppkey"),
    ForeignKeyConstraint(["ps_partkey"], ["part.p_partkey"]),
    ForeignKeyConstraint(["ps_suppkey"], ["supplier.s_suppkey"]),
)
Table(
    "customer",
    metadata,
    Column("c_custkey", Integer, primary_key=True, autoincrement=False),
    _text("c_name", 25),
    _text("c_address", 40),
    _key("c_nationkey"),
    _text("c_phone", 15),
    _money("c_acctbal"),
    _text("c_mktsegment", 10),
    _text("c_comment", 117),
    ForeignKeyConstraint(["c_nationkey"], ["nation.n_nationkey"]),
)
Table(
    "orders",
    metadata,
    Column("o_orderkey", Integer, primary_key=True, autoincrement=False),
    _key("o_custkey"),
    _text("o_orderstatus", 1),
    _money("o_totalprice"),
    Column("o_orderdate", Date, nullable=False),
    _text("o_orderpriority", 15),
    _text("o_clerk", 15),
    Column("o_shippriority", Integer, nullable=False),
    _text("o_comment", 79),
    ForeignKeyConstraint(["o_custkey"], ["customer.c_custkey"]),
)
Table(
    "lineitem",
    metadata,
    _key("l_orderkey"),
    _key("l_partkey"),
    _key("l_suppkey"),
    Column("l_linenumber", Integer, nullable=False),
    _money("l_quantity"),
    _money("l_extendedprice"),
    _money("l_discount"),
    _money("l_tax"),
    _text("l_returnflag", 1),
    _text("l_linestatus", 1),
    Column("l_shipdate", Date, nullable=False),
    Column("l_commitdate", Date, nullable=False),
    Column("l_receiptdate", Date, nullable=False),
    _text("l_shipinstruct", 25),
    _text("l_shipmode", 10),
    _text("l_comment", 44),
    PrimaryKeyConstraint("l_orderkey", "l_linenumber"),
    ForeignKeyConstraint(["l_orderkey"], ["orders.o_orderkey"]),
    ForeignKeyConstraint(["l_partkey"], ["part.p_partkey"]),
    ForeignKeyConstraint(["l_suppkey"], ["supplier.s_suppkey"]),
    ForeignKeyConstraint(
        ["l_partkey", "l_suppkey"], ["partsupp.ps_partkey", "partsupp.ps_suppkey"]
    ),
)

BATCH_ROWS = 10_000
MIN_SCALE = 0.01  # below it dbgen repeats part-supplier keys (measured: 0.005 repeats 100)
MAX_SCALE = 10.0


@dataclass(frozen=True)
class TpchReport:
    """What `db tpch` did."""

    url: str
    scale: float
    rows_loaded: dict[str, int]  # empty: it was already there


def build_tpch(url: str, scale: float = 0.01) -> TpchReport:
    """Generate TPC-H at `scale` and load it into the database at `url`, once."""
    if not MIN_SCALE <= scale <= MAX_SCALE:
        raise ConfigError(
            f"--scale must be from {MIN_SCALE:g} to {MAX_SCALE:g}, not {scale:g} (smaller TPC-H "
            "data repeats its keys)."
        )
    path = database.sqlite_path(url)
    if path is not None:
        database._check_sqlite_file(path)
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = database.make_engine(url)
    try:
        if _already_loaded(engine, url):
            return TpchReport(url, scale, {})
        metadata.create_all(engine)
        with _generated(scale) as generator:
            if engine.dialect.name == "duckdb":
                engine.dispose()  # DuckDB: one writer per file; the generator attaches it
                rows = _copy_within_duckdb(generator, make_url(url).database or "")
            else:
                rows = _copy_rows(generator, engine)
        return TpchReport(url, scale, rows)
    except sa_exc.DBAPIError as error:
        raise database.describe_database_error(url, error) from error
    except duckdb.Error as error:  # the generator, or the DuckDB file it copies into
        raise DatabaseError(
            f"Building TPC-H into {database.display_url(url)} failed: {error}"
        ) from None
    finally:
        engine.dispose()


def _already_loaded(engine: Engine, url: str) -> bool:
    present = set(inspect(engine).get_table_names())
    ours = set(metadata.tables)
    if not present:
        return False
    if present - ours:
        raise DatabaseNotEmptyError(
            f"{database.display_url(url)} already holds other tables "
            f"({', '.join(sorted(present - ours))}). Build TPC-H into a new database."
        )
    with engine.connect() as connection:
        lineitem = metadata.tables["lineitem"]
        return ours <= present and bool(
            connection.execute(select(func.count()).select_from(lineitem)).scalar_one()
        )


class _generated:
    """An in-memory DuckDB holding TPC-H at one scale, made by the packaged tpch extension."""

    def __init__(self, scale: float) -> None:
        self.scale = scale

    def __enter__(self) -> Any:
        self.connection = duckdb.connect()
        self.connection.execute(f"LOAD '{_extension_file()}'")
        self.connection.execute("CALL dbgen(sf = ?)", [self.scale])
        return self.connection

    def __exit__(self, *exc: object) -> None:
        self.connection.close()


def _extension_file() -> Path:
    """The tpch extension inside the duckdb-extension-tpch wheel: no download needed."""
    import duckdb_extension_tpch

    folder = Path(duckdb_extension_tpch.__file__).parent / "extensions"
    found = sorted(folder.glob(f"v{duckdb.__version__}/*.duckdb_extension"))
    found = found or sorted(folder.glob("*/*.duckdb_extension"))
    if not found:
        raise ConfigError(
            "The duckdb-extension-tpch package has no extension for this DuckDB; "
            "install matching versions: pip install 'duckdb-extension-tpch==<duckdb version>'."
        )
    return found[0]


def _copy_rows(generator: Any, engine: Engine) -> dict[str, int]:
    """Every table, parents first, in batches, in one transaction."""
    loaded: dict[str, int] = {}
    with engine.begin() as connection:
        for table in metadata.sorted_tables:
            loaded[table.name] = 0
            for batch in _batches(generator, table):
                connection.execute(table.insert(), batch)
                loaded[table.name] += len(batch)
    return loaded


def _batches(generator: Any, table: Table) -> Iterator[list[dict[str, Any]]]:
    names = [column.name for column in table.columns]
    cursor = generator.execute(f"SELECT {', '.join(names)} FROM {table.name}")
    while rows := cursor.fetchmany(BATCH_ROWS):
        yield [dict(zip(names, row, strict=True)) for row in rows]


def _copy_within_duckdb(generator: Any, target: str) -> dict[str, int]:
    literal = "'" + target.replace("'", "''") + "'"  # ATTACH takes no parameters
    generator.execute(f"ATTACH {literal} AS target")
    loaded = {}
    for table in metadata.sorted_tables:
        names = ", ".join(column.name for column in table.columns)
        generator.execute(
            f"INSERT INTO target.{table.name} ({names}) SELECT {names} FROM {table.name}"
        )
        loaded[table.name] = generator.execute(f"SELECT count(*) FROM {table.name}").fetchone()[0]
    generator.execute("DETACH target")
    return loaded
