"""Tiny, safe arithmetic expressions for derived values and cross-parameter checks.

A definition says `derived: "seed + 1"` or `checks: [{expr: "split_step <= steps"}]`.
Expressions are parsed once with `ast`, every node is checked against a whitelist
(no attributes, subscripts, lambdas or comprehensions, no `**`), and only then compiled,
so evaluating one is a plain `eval` with no builtins: fast enough to run per prompt.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from types import CodeType
from typing import Any

FUNCTIONS: dict[str, Any] = {"min": min, "max": max, "round": round, "int": int, "float": float, "abs": abs}

_ALLOWED = (
    ast.Expression, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.IfExp, ast.Call,
    ast.Name, ast.Load, ast.Constant,
    ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod,
    ast.USub, ast.UAdd, ast.Not, ast.And, ast.Or,
    ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE,
)


class ExprError(ValueError):
    """The expression text is not allowed or does not parse."""


@dataclass(frozen=True)
class Expr:
    text: str
    names: frozenset[str]  # parameters (and `k` for per-stage values) it reads
    _code: CodeType = field(repr=False, compare=False)

    def __call__(self, values: dict[str, Any]) -> Any:
        missing = self.names - values.keys()
        if missing:
            raise ExprError(f"{self.text!r} needs {', '.join(sorted(missing))}")
        return eval(self._code, {"__builtins__": {}, **FUNCTIONS}, values)  # noqa: S307 - whitelisted AST


def compile_expr(text: str) -> Expr:
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExprError(f"cannot parse {text!r}: {exc.msg}") from None
    names: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            raise ExprError(f"{text!r}: {type(node).__name__} is not allowed (use + - * / // %, comparisons, "
                            f"and/or/not, x if c else y, {', '.join(FUNCTIONS)})")
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS or node.keywords:
                raise ExprError(f"{text!r}: only {', '.join(FUNCTIONS)} may be called, with positional arguments")
        elif isinstance(node, ast.Name) and node.id not in FUNCTIONS:
            names.add(node.id)
        elif isinstance(node, ast.Constant) and not isinstance(node.value, (int, float, str, bool)):
            raise ExprError(f"{text!r}: constant {node.value!r} is not allowed")
    return Expr(text, frozenset(names), compile(tree, "<vq expr>", "eval"))
