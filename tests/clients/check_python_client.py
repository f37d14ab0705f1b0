"""Checks the Python client openapi-python-client generated from the spec.

Usage: check_python_client.py SPEC PACKAGE_DIR

Every operation of SPEC must have its module `api/<tag>/<operation_id in snake case>.py` in
PACKAGE_DIR, and that module's `_parse_response` must read every status the spec documents for
the operation as what the spec says the body is: a model's `from_dict` (the operation's own
model for a success, `Problem` for an error), a list of models, text, or nothing for a response
documented without a body. Prints one line per fault and exits 1 if there is any.
"""

import ast
import json
import re
import sys
from pathlib import Path

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


def snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def ref_name(schema: dict) -> str | None:
    ref = schema.get("$ref")
    return ref.rsplit("/", 1)[-1] if ref else None


def expected_reading(response: dict) -> tuple[str, str]:
    """What `_parse_response` must do with this response: (kind, model class name)."""
    content = response.get("content") or {}
    if not content:
        return ("nothing", "")
    (media_type, media), *_ = content.items()
    schema = media.get("schema") or {}
    if (name := ref_name(schema)) is not None:
        return ("model", name)
    if schema.get("type") == "array" and (name := ref_name(schema.get("items", {}))):
        return ("list", name)
    if schema.get("type") == "string" and schema.get("format") != "binary":
        return ("text", "")
    return ("untyped", f"{media_type} {json.dumps(schema)}")


def status_branches(module: ast.Module) -> dict[int, str] | None:
    """`_parse_response`'s branches: status -> the branch's code."""
    parse = next(
        (n for n in module.body if isinstance(n, ast.FunctionDef) and n.name == "_parse_response"),
        None,
    )
    if parse is None:
        return None
    branches = {}
    for node in parse.body:
        if not isinstance(node, ast.If):
            continue
        test = node.test
        if (
            isinstance(test, ast.Compare)
            and ast.unparse(test.left) == "response.status_code"
            and len(test.ops) == 1
            and isinstance(test.ops[0], ast.Eq)
            and isinstance(test.comparators[0], ast.Constant)
        ):
            branches[test.comparators[0].value] = "\n".join(ast.unparse(s) for s in node.body)
    return branches


def reads_as_expected(code: str, kind: str, model: str) -> bool:
    # The generator names a model's class after its schema (PascalCase: the schemas already are).
    if kind == "model":
        return re.search(rf"\b{model}\.from_dict\(response\.json\(\)\)", code) is not None
    if kind == "list":
        return (
            "response.json()" in code
            and re.search(rf"\b{model}\.from_dict\(", code) is not None
            and "for " in code
        )
    if kind == "text":
        return re.search(r"=\s*response\.text\b", code) is not None
    if kind == "nothing":
        return re.search(r"=\s*(cast\(Any, )?None\b", code) is not None
    return False


def main() -> int:
    spec_path, package = Path(sys.argv[1]), Path(sys.argv[2])
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    faults = []
    checked = 0
    for path, item in spec["paths"].items():
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            op_id = op["operationId"]
            tag = op["tags"][0]
            module_path = package / "api" / snake(tag) / f"{snake(op_id)}.py"
            if not module_path.is_file():
                faults.append(f"{op_id} ({method.upper()} {path}): no {module_path.relative_to(package)}")
                continue
            branches = status_branches(ast.parse(module_path.read_text(encoding="utf-8")))
            if branches is None:
                faults.append(f"{op_id}: {module_path.name} has no _parse_response")
                continue
            documented = {}
            for status, response in op["responses"].items():
                if not status.isdigit():
                    faults.append(f"{op_id}: response {status!r} is not a status code")
                    continue
                documented[int(status)] = response
            for status, response in sorted(documented.items()):
                kind, model = expected_reading(response)
                if kind == "untyped":
                    faults.append(f"{op_id} {status}: the spec gives no type to read: {model}")
                    continue
                if not status // 100 == 2 and (kind, model) != ("model", "Problem"):
                    faults.append(f"{op_id} {status}: an error that is not a Problem: {kind} {model}")
                code = branches.get(status)
                if code is None:
                    faults.append(f"{op_id} {status}: _parse_response does not read this status")
                elif not reads_as_expected(code, kind, model):
                    faults.append(
                        f"{op_id} {status}: _parse_response does not read it as {kind} {model}:\n"
                        f"    {code.replace(chr(10), chr(10) + '    ')}"
                    )
            for status in sorted(set(branches) - set(documented)):
                faults.append(f"{op_id} {status}: read by _parse_response but not in the spec")
            checked += 1
    for fault in faults:
        print(fault)
    print(f"{checked} operations checked, {len(faults)} faults")
    return 1 if faults else 0


if __name__ == "__main__":
    sys.exit(main())
