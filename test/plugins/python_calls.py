"""Prints, as JSON, every call a Python program makes into a component package's SDK module (by its alias):
the class called, its keyword arguments with their literal values, and the attributes it reads from them."""

import ast
import json
import sys

path, alias = sys.argv[1], sys.argv[2]
tree = ast.parse(open(path, encoding="utf-8").read(), filename=path)
calls = []
attribute_reads = []
assigned = {
    id(node.value): node.targets[0].id
    for node in ast.walk(tree)
    if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
}
for node in ast.walk(tree):
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == alias
    ):
        calls.append(
            {
                "name": node.func.attr,
                "positional": len(node.args),
                "keywords": {
                    k.arg: (k.value.value if isinstance(k.value, ast.Constant) else None) for k in node.keywords
                },
                "line": node.lineno,
                "variable": assigned.get(id(node)),
            }
        )
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute) and isinstance(node.value.value, ast.Name):
        attribute_reads.append({"variable": node.value.value.id, "field": node.value.attr, "attribute": node.attr})
print(json.dumps({"calls": calls, "reads": attribute_reads}))
