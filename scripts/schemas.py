"""Write the JSON Schemas the Lab extension's TypeScript types are generated from (``npm run build:schema``).

    python scripts/schemas.py           # write labextension/schema/*.json
    python scripts/schemas.py --check   # exit 1 if a written schema differs from its model
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_DIR = ROOT / "labextension" / "schema"


def schemas() -> dict[str, dict[str, Any]]:
    """File name → JSON Schema of each model the extension shares with the core."""
    from ai4geo_lab.catalog.request import SearchRequest

    return {"search_request.json": SearchRequest.model_json_schema()}


def render(schema: dict[str, Any]) -> str:
    """A schema as the text written to disk."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write (or with --check, compare) every schema; the exit code tells whether they were up to date."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    stale = []
    for name, schema in schemas().items():
        path = SCHEMA_DIR / name
        text = render(schema)
        if path.is_file() and path.read_text() == text:
            continue
        stale.append(path)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
    if args.check and stale:
        print(f"out of date: {', '.join(str(p.relative_to(ROOT)) for p in stale)}; run python scripts/schemas.py",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
