"""What the Query tool costs on every request: its bytes, and its tokens in o200k_base.

    pip install bpe-openai   # o200k_base offline (tiktoken downloads its encodings)
    python benchmarks/tool_size.py [--db URL]

Without --db, the tool for nl2sql's own sample schema.
"""

from __future__ import annotations

import argparse
import json

from nl2sql.execute import ReadOnlyDatabase
from nl2sql.tooling import tool_definition


def tokens(text: str) -> int | None:
    try:
        import bpe_openai
    except ImportError:
        return None
    return len(bpe_openai.get_encoding("o200k_base").encode(text))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=None)
    args = parser.parse_args()
    tool = ReadOnlyDatabase(args.db).tool if args.db else None
    definition = tool_definition(tool)
    whole = json.dumps(definition, separators=(",", ":"))
    description = definition["function"]["description"]
    schema = json.dumps(definition["function"]["parameters"], separators=(",", ":"))
    for label, text in [("tool", whole), ("description", description), ("JSON schema", schema)]:
        counted = tokens(text)
        shown = f"{counted} tokens" if counted is not None else "tokens: pip install bpe-openai"
        print(f"{label:<12} {len(text.encode()):>6} bytes  {shown}")


if __name__ == "__main__":
    main()
