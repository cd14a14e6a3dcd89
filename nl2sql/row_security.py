"""PostgreSQL's second line of tenant defence: a SELECT-only role under row-level security.

The compiler scopes every query to the tenant; that stays the first line. Under it, ``secure``
(run by ``nl2sql db init`` and ``nl2sql db secure``) makes PostgreSQL enforce the same scope for
any SQL a tenant's session runs, compiled or not:
- the role ``READER_ROLE`` logs in and reads, nothing else: SELECT on the columns a tenant's
  query may read (no hidden column; on a hidden table only the keys the scope follows),
  read-only by default, no other privilege;
- every table that reaches the tenant key gets row-level security, enabled and forced, and the
  policy ``TENANT_POLICY``: a row is the reader's when its path to the key ends at the customer
  the transaction names in ``TENANT_SETTING`` (no setting: no rows). It is the compiler's
  own scope condition, compared with the setting instead of a number. ``OWNER_POLICY`` keeps
  every row readable and writable for the role that ran ``secure``.

``problems`` is the start-up self-check a tenant's engine runs before serving anyone.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, Engine, Table, cast, func, literal, literal_column, select, text
from sqlalchemy.engine import make_url

from nl2sql.catalog import Catalog, scope_keys

TENANT_SETTING = "nl2sql.customer_id"  # set per transaction; what the policies compare with
READER_ROLE = "nl2sql_reader"
READER_PASSWORD_ENV = "NL2SQL_READER_PASSWORD"
TENANT_POLICY = "nl2sql_tenant"
OWNER_POLICY = "nl2sql_owner"
WRITE_PRIVILEGES = "INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER"


def reader_url(url: str) -> str:
    """The same server and database, logged in as the reader (its password from the
    environment, when the server asks for one)."""
    parsed = make_url(url).set(username=READER_ROLE, password=os.environ.get(READER_PASSWORD_ENV))
    return parsed.render_as_string(hide_password=False)


def fix_hint(where: str, config_path: str | None = None) -> str:
    """How to secure the database: with the same config, since the policies follow it."""
    config = f" --config {config_path}" if config_path else ""
    return (
        f"Run 'nl2sql db secure --db {where}{config}' as the tables' owner: it creates the role "
        f"{READER_ROLE} and the row-level security policies."
    )


# -- secure -------------------------------------------------------------------------------------


def policy_tables(catalog: Catalog) -> list[str]:
    """The tables whose rows belong to a tenant: every table that reaches the key, not shared."""
    tenant = catalog.require_tenant()
    return [
        name
        for name in catalog.tables
        if name not in tenant.shared and catalog.scope_path(name) is not None
    ]


def secure(engine: Engine, catalog: Catalog) -> list[str]:
    """Create or refresh the reader role, its grants and the policies, in one transaction.
    Returns the tables now under row-level security. Running it again changes nothing."""
    tables = policy_tables(catalog)
    with engine.begin() as connection:
        for statement in _securing_statements(connection, catalog, tables):
            connection.exec_driver_sql(statement)
    return tables


def _securing_statements(
    connection: Connection, catalog: Catalog, tables: list[str]
) -> Iterator[str]:
    quote = connection.dialect.identifier_preparer.quote
    role = quote(READER_ROLE)
    yield from _role_statements(connection)
    database = connection.execute(text("SELECT current_database()")).scalar_one()
    yield f"GRANT CONNECT ON DATABASE {quote(database)} TO {role}"
    for schema in _schemas(connection, catalog):
        yield f"GRANT USAGE ON SCHEMA {quote(schema)} TO {role}"
        yield f"REVOKE ALL ON ALL TABLES IN SCHEMA {quote(schema)} FROM {role}"
    yield from _grants(connection, catalog, tables)
    for name in tables:
        yield from _policy_statements(connection, catalog, name)
    for name in _formerly_protected(connection, catalog, tables):
        yield from _unprotect_statements(connection, catalog, name)


def _role_statements(connection: Connection) -> Iterator[str]:
    role = connection.dialect.identifier_preparer.quote(READER_ROLE)
    # CREATE ROLE has no IF NOT EXISTS; another database on the server may have made it.
    yield (
        "DO $$ BEGIN "
        f"CREATE ROLE {role} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT; "
        "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
    )
    yield f"ALTER ROLE {role} SET default_transaction_read_only = on"
    password = os.environ.get(READER_PASSWORD_ENV)
    if password:
        yield f"ALTER ROLE {role} PASSWORD {_literal(connection, password)}"


def _grants(connection: Connection, catalog: Catalog, tables: list[str]) -> Iterator[str]:
    """SELECT on what a tenant's query may read, column by column (`Catalog.readable`): the
    visible columns of the tenant's and the shared tables, and on hidden tables only the keys
    the scope follows. A hidden column is then refused by PostgreSQL itself."""
    quote = connection.dialect.identifier_preparer.quote
    tenant = catalog.require_tenant()
    granted = set(tables) | set(tenant.shared) | {table for table, _ in scope_keys(catalog)}
    for name, columns in catalog.readable.items():
        if name not in granted or not columns:
            continue
        target = _table_name(connection, catalog.tables[name])
        names = ", ".join(map(quote, sorted(columns)))
        yield f"GRANT SELECT ({names}) ON {target} TO {quote(READER_ROLE)}"


def _policy_statements(connection: Connection, catalog: Catalog, name: str) -> Iterator[str]:
    quote = connection.dialect.identifier_preparer.quote
    table = catalog.tables[name]
    target = _table_name(connection, table)
    yield f"ALTER TABLE {target} ENABLE ROW LEVEL SECURITY"
    yield f"ALTER TABLE {target} FORCE ROW LEVEL SECURITY"
    for policy in (TENANT_POLICY, OWNER_POLICY):
        yield f"DROP POLICY IF EXISTS {quote(policy)} ON {target}"
    yield (
        f"CREATE POLICY {quote(TENANT_POLICY)} ON {target} FOR SELECT TO {quote(READER_ROLE)} "
        f"USING ({policy_condition(connection, catalog, name)})"
    )
    yield (
        f"CREATE POLICY {quote(OWNER_POLICY)} ON {target} FOR ALL TO CURRENT_USER "
        "USING (true) WITH CHECK (true)"
    )


def _formerly_protected(connection: Connection, catalog: Catalog, tables: list[str]) -> list[str]:
    """Tables an earlier `secure` protected that no longer reach the tenant (now shared)."""
    others = [name for name in catalog.tables if name not in tables]
    return [name for name in others if _has_policy(connection, catalog, name)]


def _unprotect_statements(connection: Connection, catalog: Catalog, name: str) -> Iterator[str]:
    quote = connection.dialect.identifier_preparer.quote
    target = _table_name(connection, catalog.tables[name])
    for policy in (TENANT_POLICY, OWNER_POLICY):
        yield f"DROP POLICY IF EXISTS {quote(policy)} ON {target}"
    yield f"ALTER TABLE {target} NO FORCE ROW LEVEL SECURITY"
    yield f"ALTER TABLE {target} DISABLE ROW LEVEL SECURITY"


def policy_condition(connection: Connection, catalog: Catalog, name: str) -> str:
    """The compiler's scope condition for `name`, against the transaction's tenant setting."""
    from nl2sql.compiler import scope_condition

    tenant = catalog.require_tenant()
    key = catalog.tables[tenant.table].c[tenant.column]
    setting = cast(func.nullif(func.current_setting(TENANT_SETTING, True), ""), key.type)
    path = catalog.scope_path(name)
    assert path is not None, f"{name} does not reach the tenant key"
    table = catalog.tables[name]
    condition = scope_condition(catalog, table, path, setting, seen={name})
    # Compiled inside a query on the table, so an EXISTS step correlates to it rather than
    # adding it to its own FROM (a policy that reads its own table recurses forever).
    bare = _sql(connection, select(literal_column("1")).select_from(table))
    full = _sql(connection, select(literal_column("1")).select_from(table).where(condition))
    separator = " \nWHERE "
    assert full.startswith(bare + separator), full
    return full[len(bare) + len(separator) :]


def _sql(connection: Connection, statement: Any) -> str:
    return str(
        statement.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True})
    )


# -- the self-check -----------------------------------------------------------------------------


def problems(connection: Connection, catalog: Catalog) -> list[str]:
    """What would let a tenant's session see or change more than its own rows: the login role
    bypasses row-level security or can write, or a table lacks its forced policy."""
    found: list[str] = []
    user, superuser, bypass = connection.execute(
        text("SELECT rolname, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
    ).one()
    if superuser or bypass:
        found.append(f"it logs in as {user}, which bypasses row-level security")
    writable = [
        name
        for name in catalog.tables
        if connection.execute(
            text("SELECT has_table_privilege(CAST(:t AS regclass), :p)"),
            {"t": _table_name(connection, catalog.tables[name]), "p": WRITE_PRIVILEGES},
        ).scalar_one()
    ]
    if writable:
        found.append(f"{user} can write to {', '.join(writable)}")
    for schema in _schemas(connection, catalog):
        if connection.execute(
            text("SELECT has_schema_privilege(:s, 'CREATE')"), {"s": schema}
        ).scalar_one():
            found.append(f"{user} can create tables in schema {schema}")
    unprotected = [
        name for name in policy_tables(catalog) if not _is_protected(connection, catalog, name)
    ]
    if unprotected:
        found.append(
            f"{', '.join(unprotected)} {'has' if len(unprotected) == 1 else 'have'} no forced "
            f"{TENANT_POLICY} row-level security policy"
        )
    return found


def _has_policy(connection: Connection, catalog: Catalog, name: str) -> bool:
    found = connection.execute(
        text("SELECT 1 FROM pg_policy WHERE polrelid = CAST(:t AS regclass) AND polname = :p"),
        {"t": _table_name(connection, catalog.tables[name]), "p": TENANT_POLICY},
    ).first()
    return found is not None


def _is_protected(connection: Connection, catalog: Catalog, name: str) -> bool:
    row = connection.execute(
        text(
            "SELECT c.relrowsecurity AND c.relforcerowsecurity AND EXISTS ("
            "  SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = :policy)"
            " FROM pg_class c WHERE c.oid = CAST(:t AS regclass)"
        ),
        {"t": _table_name(connection, catalog.tables[name]), "policy": TENANT_POLICY},
    ).scalar_one()
    return bool(row)


# -- names ----------------------------------------------------------------------------------------


def _table_name(connection: Connection, table: Table) -> str:
    return connection.dialect.identifier_preparer.format_table(table)


def _schemas(connection: Connection, catalog: Catalog) -> list[str]:
    default = connection.execute(text("SELECT current_schema()")).scalar_one()
    return sorted({table.schema or default for table in catalog.tables.values()})


def _literal(connection: Connection, value: str) -> str:
    return str(
        literal(value).compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True})
    )
