"""The `nl2sql` command. Thin: it parses flags, calls the library and prints."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from nl2sql.errors import ConfigError, NL2SQLError

if TYPE_CHECKING:
    from nl2sql.agent import Agent
    from nl2sql.config import Config

# Each command imports what it needs when it runs: `nl2sql --help` and a typo cost only typer,
# and `nl2sql ask` never loads Alembic, the server or the test runner.

app = typer.Typer(
    help="Ask plain-English questions about an orders database.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    add_completion=False,
)
db_app = typer.Typer(help="Create and fill the orders database.", no_args_is_help=True)
app.add_typer(db_app, name="db")

stdout = Console(soft_wrap=True)
stderr = Console(stderr=True, soft_wrap=True)


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Database URL or SQLite file path [default: $NL2SQL_DATABASE_URL, else a local file]",
        show_default=False,
    ),
]


@contextmanager
def reporting_errors(
    output: OutputFormat = OutputFormat.text, *, question: str | None = None, verbose: bool = False
) -> Iterator[None]:
    """Turn an NL2SQLError into one line (or a JSON `error` object) and its exit code:
    2 usage, 3 refused or not understood, 1 anything else."""
    try:
        yield
    except NL2SQLError as error:
        from nl2sql import session

        if output is OutputFormat.json:
            print(json.dumps(session.error_object(error, question)))
        else:
            session.print_error(stderr, error)
        if verbose and error.turn is not None:
            session.report(stderr, error.turn)
        raise typer.Exit(error.exit_code) from None


ConfigOption = Annotated[
    str | None,
    typer.Option(
        "--config",
        metavar="PATH",
        help="TOML file with what the database cannot say: tenant, words, descriptions, joins, "
        "hidden [default: $NL2SQL_CONFIG]",
        show_default=False,
    ),
]
CustomerOption = Annotated[
    str | None,
    typer.Option(
        "--customer", metavar="ID", help="Only this customer's rows are visible (tenant scope)."
    ),
]
FormatOption = Annotated[OutputFormat, typer.Option("--format", help="text or json")]


ModelOption = Annotated[
    str | None,
    typer.Option(
        "--model",
        help="Model name, or 'offline' [default: $NL2SQL_MODEL, else by "
        "environment: OpenAI, Azure, OPENAI_BASE_URL, offline]",
        show_default=False,
    ),
]
TodayOption = Annotated[
    str | None,
    typer.Option(
        "--today",
        help="The date the model is told, YYYY-MM-DD [default: $NL2SQL_TODAY, else the clock]",
        show_default=False,
    ),
]
TimeoutOption = Annotated[
    float | None,
    typer.Option(
        "--timeout",
        min=0.1,
        help="Seconds to wait for the model per request [default: $NL2SQL_TIMEOUT, else 60]",
        show_default=False,
    ),
]
RetriesOption = Annotated[
    int | None,
    typer.Option(
        "--max-retries",
        min=0,
        help="Retries on timeouts, 429 and 5xx, with backoff "
        "[default: $NL2SQL_MAX_RETRIES, else 2]",
        show_default=False,
    ),
]
ApiOption = Annotated[
    str | None,
    typer.Option(
        "--api",
        metavar="chat|responses",
        help="The model API: Chat Completions or the Responses API [default: $NL2SQL_API, "
        "else chat]",
        show_default=False,
    ),
]
VerboseOption = Annotated[
    bool, typer.Option("--verbose", "-v", help="Show tool calls, SQL, timings and tokens.")
]


@app.command("ask")
def ask_command(
    question: Annotated[str, typer.Argument(help="Your question, in plain English")],
    db: DbOption = None,
    config: ConfigOption = None,
    model: ModelOption = None,
    today: TodayOption = None,
    customer: CustomerOption = None,
    output: FormatOption = OutputFormat.text,
    verbose: VerboseOption = False,
    timeout: TimeoutOption = None,
    max_retries: RetriesOption = None,
    api: ApiOption = None,
) -> None:
    """Answer one question about the orders database.

    Exit codes: 0 answered, 1 failed, 2 bad usage, 3 refused or not understood.
    """
    from nl2sql import session

    with reporting_errors(output, question=question, verbose=verbose):
        if not question.strip():
            raise ConfigError(
                'The question is empty. Try: nl2sql ask "How many orders are in transit?"'
            )
        with make_agent(db, config, model, today, customer, timeout, max_retries, api) as agent:
            if output is OutputFormat.json:
                turn = agent.ask(question).raise_for_status()
                print(json.dumps(turn.to_json(), default=str))
            else:
                turn = session.answer(agent, question, stdout).raise_for_status()
        if verbose:
            session.report(stderr, turn)


@app.command("chat")
def chat_command(
    db: DbOption = None,
    config: ConfigOption = None,
    model: ModelOption = None,
    today: TodayOption = None,
    customer: CustomerOption = None,
    output: FormatOption = OutputFormat.text,
    verbose: VerboseOption = False,
    timeout: TimeoutOption = None,
    max_retries: RetriesOption = None,
    api: ApiOption = None,
) -> None:
    """Interactive conversation: follow-up questions keep their context. /help for commands."""
    from nl2sql import session

    with reporting_errors(output):
        agent = make_agent(db, config, model, today, customer, timeout, max_retries, api)
    with agent:
        session.chat(
            agent, stdout, stderr, json_output=output is OutputFormat.json, verbose=verbose
        )


def make_agent(
    db: str | None,
    config_path: str | None,
    model: str | None,
    today: str | None,
    customer: str | None,
    timeout: float | None = None,
    max_retries: int | None = None,
    api: str | None = None,
) -> Agent:
    from nl2sql.agent import Agent
    from nl2sql.config import load_config

    config = load_config(config_path)
    return Agent(
        database_url(db, config),
        model=model,
        today=parse_today(today),
        customer_id=parse_customer(customer),
        timeout=timeout,
        max_retries=max_retries,
        config=config,
        api=api,
    )


def database_url(db: str | None, config: Config | None) -> str:
    """--db, else NL2SQL_DATABASE_URL, else the config's `database`, else the local sample
    (created and filled on first use)."""
    from nl2sql import database

    configured = config.database if config is not None else None
    return database.choose_url(db, configured, on_create=announce_new_database)


def announce_new_database(path: str) -> None:
    stderr.print(Text(f"Created the sample orders database at {path} (first run).", style="dim"))


def parse_customer(value: str | None) -> int | None:
    """A customer id for the tenant scope, checked here so --format json can report it."""
    if value is None:
        return None
    if not value.strip().isdigit() or not 0 < int(value) < 2**31:
        raise ConfigError(
            f"--customer takes a customer id (a positive whole number), not {value!r}."
        )
    return int(value)


def parse_today(value: str | None) -> date | None:
    value = value or os.environ.get("NL2SQL_TODAY")
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ConfigError(
            f"--today / NL2SQL_TODAY must be a date like 2026-11-28, not {value!r}."
        ) from None


@app.command("run")
def run_command(
    spec: Annotated[
        str, typer.Argument(help="Query tool call as JSON text, @file, or - for stdin")
    ],
    db: DbOption = None,
    config: ConfigOption = None,
    customer: CustomerOption = None,
    output: FormatOption = OutputFormat.text,
) -> None:
    """Run one Query tool call directly, with no model."""
    from nl2sql import render
    from nl2sql.config import load_config
    from nl2sql.execute import run_query

    with reporting_errors(output):
        arguments = read_spec(spec)
        customer_id = parse_customer(customer)
        loaded = load_config(config)
        result = run_query(  # checks that the customer exists
            arguments, database_url(db, loaded), customer_id=customer_id, config=loaded
        )
    if output is OutputFormat.json:
        print(json.dumps({"query": result.query, **result.to_json()}, default=str))
    else:
        render.result(stdout, result)


@app.command("test")
def test_command(
    suites: Annotated[
        list[Path], typer.Argument(help="Suite files (YAML: cases with expectations)")
    ],
    db: DbOption = None,
    config: ConfigOption = None,
    model: ModelOption = None,
    junit: Annotated[
        Path | None, typer.Option("--junit", metavar="FILE", help="Also write JUnit XML here.")
    ] = None,
    record: Annotated[
        Path | None,
        typer.Option("--record", metavar="DIR", help="Keep every model exchange as a cassette."),
    ] = None,
    replay: Annotated[
        Path | None,
        typer.Option("--replay", metavar="DIR", help="Answer from cassettes; no model needed."),
    ] = None,
    output: FormatOption = OutputFormat.text,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            min=1,
            help="Cases run at once [default: 1 for the offline model and replays, else 4]",
            show_default=False,
        ),
    ] = None,
    timeout: TimeoutOption = None,
    max_retries: RetriesOption = None,
    api: ApiOption = None,
) -> None:
    """Run scripted query tests: each case's question through the agent, checked against its
    expectations (value, rows, sql, query, answer_contains, refused).

    Exit codes: 0 every case passed, 1 any failed, 2 bad usage or a bad suite file.
    """
    from nl2sql import session
    from nl2sql.suite import report
    from nl2sql.suite.run import RunOptions, load_suites, opened, run_all

    with reporting_errors(output):
        if record is not None and replay is not None:
            raise ConfigError("Give --record DIR or --replay DIR, not both.")
        options = RunOptions(
            db, config, model, record, replay, jobs, timeout, max_retries, api
        )
        loaded = load_suites(suites)
        with opened(loaded, options) as runs:
            with session.progress(stderr, sum(len(s.cases) for s in loaded)) as advance:
                outcomes = run_all(runs, options, on_done=advance)
        if junit is not None:
            report.write_junit(outcomes, junit)
    if output is OutputFormat.json:
        print(report.dumps(outcomes))
    else:
        report.table(stdout, outcomes)
    raise typer.Exit(0 if all(outcome.passed for outcome in outcomes) else 1)


HostOption = Annotated[str, typer.Option("--host", help="Address to listen on")]
ConversationsOption = Annotated[
    str | None,
    typer.Option(
        "--conversations",
        metavar="PATH",
        help="SQLite file the server keeps conversations in [default: beside the local "
        "sample database]",
        show_default=False,
    ),
]


@app.command("serve")
def serve_command(
    db: DbOption = None,
    config: ConfigOption = None,
    host: HostOption = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port")] = 8000,
    model: ModelOption = None,
    today: TodayOption = None,
    conversations: ConversationsOption = None,
) -> None:
    """Serve the HTTP API (/v1/ask, /v1/query, /v1/schema), its web page at / and OpenAPI at
    /docs. Keys come from the config's [[api_keys]] (nl2sql new-key makes one)."""
    from nl2sql import database
    from nl2sql.server.serve import serve

    with reporting_errors():
        service = open_server_service(db, config, model, today, conversations, require_keys=True)
        stderr.print(Text(f"nl2sql serving {database.display_url(service.db.url)}", style="dim"))
        try:
            serve(service, host, port)
        finally:
            service.close()
            service.db.close()


@app.command("mcp")
def mcp_command(
    db: DbOption = None,
    config: ConfigOption = None,
    http: Annotated[
        int | None,
        typer.Option(
            "--http",
            metavar="PORT",
            min=1,
            max=65535,
            help="Serve streamable HTTP at http://127.0.0.1:PORT/mcp instead of stdio",
        ),
    ] = None,
    model: ModelOption = None,
    today: TodayOption = None,
    conversations: ConversationsOption = None,
) -> None:
    """Serve the MCP tools ask, query and schema (stdio by default). Over stdio the key is
    $NL2SQL_API_KEY (needed when the config lists [[api_keys]]); over HTTP each request's
    Authorization: Bearer KEY."""
    from nl2sql.server.mcp_server import run_mcp

    with reporting_errors():
        service = open_server_service(
            db, config, model, today, conversations, require_keys=http is not None
        )
        try:
            run_mcp(service, http_port=http)
        finally:
            service.close()
            service.db.close()


def open_server_service(
    db: str | None,
    config_path: str | None,
    model: str | None,
    today: str | None,
    conversations: str | None,
    *,
    require_keys: bool,
) -> Any:
    from nl2sql.config import load_config
    from nl2sql.server.serve import open_service

    loaded = load_config(config_path)
    return open_service(
        database_url(db, loaded),
        loaded,
        model=model,
        conversations=conversations,
        today=parse_today(today),
        require_keys=require_keys,
    )


@app.command("new-key")
def new_key_command(
    customer: CustomerOption = None,
    name: Annotated[str, typer.Option("--name", help="A name for the key, shown in logs")] = "",
) -> None:
    """Make an API key: the key is printed once (give it to the client); the config gets only
    its SHA-256, as the [[api_keys]] table printed below it."""
    from nl2sql.server.keys import config_entry, new_key

    with reporting_errors():
        tenant = parse_customer(customer)  # before the key: a bad flag prints nothing
        key, digest = new_key()
        print(key)
        print()
        print(config_entry(digest, tenant, name))


@app.command("schema")
def schema_command(
    db: DbOption = None,
    config: ConfigOption = None,
    check: Annotated[
        bool, typer.Option("--check", help="List what the model will lack (exit 1 if anything).")
    ] = False,
) -> None:
    """Print the Query tool definition exactly as it is sent to the model.

    With no database named (--db, $NL2SQL_DATABASE_URL, the config), nl2sql's own schema's tool.
    """
    from nl2sql import database
    from nl2sql.catalog import builtin_catalog
    from nl2sql.checks import catalog_problems
    from nl2sql.config import load_config
    from nl2sql.execute import ReadOnlyDatabase
    from nl2sql.tooling import tool_definition

    with reporting_errors():
        loaded = load_config(config)
        tool = None
        if db or os.environ.get(database.DATABASE_URL_ENV) or loaded is not None:
            with ReadOnlyDatabase(database_url(db, loaded), config=loaded) as reader:
                tool = reader.tool
        if check:
            problems = catalog_problems(tool.catalog if tool else builtin_catalog())
            for problem in problems:
                stdout.print(Text(f"- {problem}"))
            stdout.print(f"{len(problems)} problem(s) found." if problems else "Nothing missing.")
            raise typer.Exit(1 if problems else 0)
        definition = tool_definition(tool)
    print(json.dumps(definition, indent=2))


def read_spec(spec: str) -> str:
    if spec == "-":
        return sys.stdin.read()
    if spec.startswith("@"):
        path = Path(spec[1:])
        try:
            return path.read_text()
        except OSError as error:
            raise ConfigError(f"Cannot read {path}: {error.strerror}.") from error
    return spec


@db_app.command("init")
def db_init(db: DbOption = None) -> None:
    """Migrate the database to the latest schema and load the sample data (idempotent)."""
    from nl2sql import database

    with reporting_errors():
        url = database.resolve_url(db)
        # nl2sql's own default file gets its folder made; a path you name must have one.
        default = database.sqlite_path(url) == database.default_sqlite_path().resolve()
        report = database.init_database(url, create_folder=default)
    where = database.display_url(url)
    if not report.changed:
        stdout.print(Text(f"{where} is already up to date; nothing changed."))
        return
    loaded = ", ".join(f"{count:,} {name}" for name, count in report.rows_loaded.items() if count)
    stdout.print(Text(f"Database: {where}"))
    stdout.print(f"Schema migrated to revision {report.migrated_to}.")
    stdout.print(f"Sample data loaded: {loaded}." if loaded else "Sample data already present.")


@db_app.command("secure")
def db_secure(db: DbOption = None, config: ConfigOption = None) -> None:
    """Make PostgreSQL enforce the customer scope itself: a SELECT-only role and row-level
    security policies on every table that reaches the tenant key (idempotent)."""
    from sqlalchemy import exc as sa_exc

    from nl2sql import database
    from nl2sql.config import load_config
    from nl2sql.query import hidden_columns_from_env
    from nl2sql.reflect import load_catalog
    from nl2sql.row_security import READER_ROLE

    with reporting_errors():
        loaded = load_config(config)
        url = database_url(db, loaded)
        engine = database.make_engine(url)
        try:
            hidden = hidden_columns_from_env()
            where = database.display_url(url)
            catalog = load_catalog(engine, loaded, hidden, where=where)
            if catalog.tenant is None:
                raise ConfigError(
                    f"{where} has no tenant key, so there is no customer scope to enforce; name "
                    'it in a config ([tenant] column = "table.column") and pass --config.'
                )
            tables = database.secure_database(engine, catalog)
        except sa_exc.DBAPIError as error:
            if "permission denied" in str(error.orig):
                raise ConfigError(
                    f"{database.describe_database_error(url, error)}. Run 'nl2sql db secure' as a "
                    "role that owns the tables and may create roles (e.g. the database owner "
                    "with CREATEROLE, or a superuser)."
                ) from error
            raise database.describe_database_error(url, error) from error
        finally:
            engine.dispose()
    where = database.display_url(url)
    if not tables:
        stdout.print(Text(f"{where} cannot enforce a customer scope itself; nothing changed."))
        return
    stdout.print(Text(f"Row-level security on {', '.join(tables)} in {where}."))
    stdout.print(
        Text(f"Customer-scoped questions now run as {READER_ROLE}, which can only read them.")
    )


@db_app.command("tpch")
def db_tpch(
    db: Annotated[str, typer.Option("--db", help="Database URL or SQLite file path to build")],
    scale: Annotated[float, typer.Option(help="TPC-H scale factor (0.01: 15,000 orders)")] = 0.01,
) -> None:
    """Build TPC-H (generated offline) into a new database, with its keys declared."""
    from nl2sql import database
    from nl2sql.tpch import build_tpch

    with reporting_errors():
        url = database.resolve_url(db)
        report = build_tpch(url, scale)
    where = database.display_url(url)
    if not report.rows_loaded:
        stdout.print(Text(f"{where} already holds TPC-H; nothing changed."))
        return
    loaded = ", ".join(f"{count:,} {name}" for name, count in report.rows_loaded.items())
    stdout.print(Text(f"TPC-H at scale {scale:g} loaded into {where}: {loaded}."))
    stdout.print(Text(f"Ask with its config: nl2sql ask --db {where} --config configs/tpch.toml"))


@db_app.command("generate")
def db_generate(
    sqlite: Annotated[
        Path | None, typer.Option(help="New SQLite file to create", show_default=False)
    ] = None,
    db: Annotated[
        str | None,
        typer.Option("--db", help="Empty PostgreSQL or DuckDB database to fill (bulk COPY)"),
    ] = None,
    orders: Annotated[int, typer.Option(min=1, help="How many orders")] = 1_000_000,
    seed: Annotated[int, typer.Option(help="Random seed")] = 20261128,
) -> None:
    """Generate a large database for benchmarks (deterministic for a given seed)."""
    from nl2sql.sample_data import main as generate

    with reporting_errors():
        if (sqlite is None) == (db is None):
            raise ConfigError("Give one of --sqlite FILE or --db URL.")
        target = ["--sqlite", str(sqlite)] if sqlite is not None else ["--db", str(db)]
        generate([*target, "--orders", str(orders), "--seed", str(seed)])


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except NL2SQLError as error:  # raised outside a command's own handler
        stderr.print(f"error: {error}", highlight=False, markup=False)
        sys.exit(error.exit_code)


if __name__ == "__main__":  # python -m nl2sql.cli: what MCP clients and tests spawn
    main()
