"""Did openapi-python-client generate every operation of the document?

    python check_generated.py OPENAPI_JSON PACKAGE_DIR GENERATOR_LOG

Counts the document's operations and the generated endpoint modules (PACKAGE_DIR/api/<tag>/
<operation>.py), lists what the generator warned about (GENERATOR_LOG is its output; it
says "Endpoint will not be generated" for each operation it skips, with the reason), and
checks that every operationId has its module. Exits 1 on any warning, skipped or missing
operation.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def module_name(operation_id: str) -> str:
    """The generator's file name for an operationId: camelCase to snake_case."""
    words = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", operation_id)
    return re.sub(r"[^0-9A-Za-z]+", "_", words).strip("_").lower()


def main() -> int:
    spec_path, package_dir, log_path = (Path(a) for a in sys.argv[1:4])
    doc = json.loads(spec_path.read_text(encoding="utf-8"))
    log = log_path.read_text(encoding="utf-8", errors="replace")

    operations = [
        (method.upper(), path, op.get("operationId"))
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]
    modules: dict[str, list[Path]] = {}
    for file in sorted((package_dir / "api").glob("*/*.py")):
        if file.name != "__init__.py":
            modules.setdefault(file.stem, []).append(file)
    module_count = sum(len(files) for files in modules.values())
    print(
        f"document: {len(operations)} operations; generated: {module_count} endpoint modules "
        f"in {len(list((package_dir / 'api').glob('*/')))} tag packages, "
        f"{len(list((package_dir / 'models').glob('*.py'))) - 1} model modules"
    )

    problems = 0
    skipped = re.findall(
        r"^WARNING parsing (\S+ \S+) within \S+\. Endpoint will not be generated\.\n\n?(.*)$", log, re.M
    )
    for endpoint, reason in skipped:
        print(f"skipped by the generator: {endpoint}: {reason.strip() or 'see its output above'}")
    problems += len(skipped)
    if not skipped and ("Warning(s) encountered" in log or "Error(s) encountered" in log):
        print("the generator reported warnings or errors (its output is above)")
        problems += 1

    for method, path, operation_id in operations:
        if not operation_id:
            print(f"no operationId: {method} {path}")
            problems += 1
            continue
        found = modules.get(module_name(operation_id), [])
        if len(found) != 1:
            what = "no generated module" if not found else f"{len(found)} modules"
            print(f"{what} for {operation_id} ({method} {path}): expected api/<tag>/{module_name(operation_id)}.py")
            problems += 1

    if problems:
        print(f"{problems} problem(s): not every operation of the document is in the generated client")
        return 1
    print(f"every operationId of the document has its generated module ({len(operations)} of {len(operations)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
