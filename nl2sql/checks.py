"""`nl2sql schema --check`: what a catalog lacks for good answers, in one list.

Each check reads the catalog and returns plain sentences naming the table or column and the fix;
none of them stops nl2sql from running.
"""

from __future__ import annotations

from collections.abc import Callable

from nl2sql.catalog import Catalog, describe_path


def undescribed_tables(catalog: Catalog) -> list[str]:
    return [
        f"table {name} has no description: add [tables.{name}] description in the config"
        for name in catalog.exposed
        if not catalog.tables[name].comment
    ]


def undescribed_columns(catalog: Catalog) -> list[str]:
    problems = []
    for name in catalog.exposed:
        missing = [
            column.name
            for column in catalog.tables[name].columns
            if not column.comment and f"{name}.{column.name}" not in catalog.hidden_columns
        ]
        if missing:
            problems.append(
                f"{len(missing)} column(s) of {name} have no description ({', '.join(missing)}): "
                f'add [columns."{name}.{missing[0]}"] description, ... in the config'
            )
    return problems


def keyless_tables(catalog: Catalog) -> list[str]:
    """Without a key, rows that a join repeats cannot be told apart, so sums over it may grow."""
    return [
        f"table {name} has no primary key: counts and sums across a join to it cannot be "
        "de-duplicated exactly; declare one in the database"
        for name in catalog.exposed
        if not catalog.tables[name].primary_key.columns
    ]


def isolated_tables(catalog: Catalog) -> list[str]:
    if len(catalog.exposed) < 2:
        return []
    return [
        f"table {name} joins no other table: add a foreign key, or a joins entry in the config"
        for name in catalog.exposed
        if not catalog.edges.get(name)
    ]


def tenant_gaps(catalog: Catalog) -> list[str]:
    tenant = catalog.tenant
    if tenant is None:
        return ['no tenant key: --customer cannot be used; set [tenant] column = "table.column"']
    problems = []
    for name in catalog.exposed:
        if name in tenant.shared:
            continue
        try:
            path = catalog.scope_path(name)
        except Exception as error:  # noqa: BLE001 - a tie is reported as the problem it is
            problems.append(str(error))
            continue
        if path is None:
            problems.append(
                f"table {name} does not reach the tenant key {tenant.qualified}: a scoped query "
                f"on it is refused; list it in [tenant] shared if every customer may see it"
            )
    return problems


def tied_paths(catalog: Catalog) -> list[str]:
    problems = []
    for base in catalog.exposed:
        reach = catalog.reach(base)
        for target, paths in sorted(reach.ties.items()):
            if base < target:  # each pair once
                named = "; ".join(describe_path(base, path) for path in paths)
                problems.append(
                    f"{base} reaches {target} along equally short paths ({named}): a query on "
                    f"{base} that uses {target} must name the table in between as its base"
                )
    return problems


CHECKS: tuple[Callable[[Catalog], list[str]], ...] = (
    undescribed_tables,
    undescribed_columns,
    keyless_tables,
    isolated_tables,
    tenant_gaps,
    tied_paths,
)


def catalog_problems(catalog: Catalog) -> list[str]:
    """Every problem every check finds, in check order."""
    return [problem for check in CHECKS for problem in check(catalog)]
