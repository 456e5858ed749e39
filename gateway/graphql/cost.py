"""A simple cost limit, checked before any resolver runs (so before any upstream read).

Every field costs 1 plus what it selects; a field taking ``first`` multiplies its whole
selection by that page size, and a list field with no ``first`` multiplies by
:data:`UNPAGED_LIST` (an estimate of its length) unless it sits directly in a page that
``first`` already counted. Introspection fields cost nothing. ``first`` given as a variable
counts with the variable's value, or the argument's default when the variable is unset.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (ExecutionResult, FieldNode, FragmentDefinitionNode, FragmentSpreadNode, GraphQLField,
                     GraphQLInterfaceType, GraphQLList, GraphQLNonNull, GraphQLObjectType, GraphQLSchema,
                     InlineFragmentNode, IntValueNode, OperationDefinitionNode, SelectionSetNode, VariableNode,
                     get_named_type)
from strawberry.extensions import SchemaExtension

from gateway.graphql.errors import GatewayError

UNPAGED_LIST = 20
PAGE_ARGUMENT = "first"


class CostTooHigh(GatewayError):
    def __init__(self, cost: int, max_cost: int) -> None:
        super().__init__("query-too-costly", f"the query costs {cost}, more than the {max_cost} allowed: ask for "
                                             f"smaller pages (first) or fewer nested lists", 400, cost=cost,
                         max_cost=max_cost)


def _is_list(field: GraphQLField) -> bool:
    kind = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
    return isinstance(kind, GraphQLList)


class _Costing:
    def __init__(self, schema: GraphQLSchema, fragments: Mapping[str, FragmentDefinitionNode],
                 variables: Mapping[str, Any], stop_at: int) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.stop_at = stop_at  # stop counting once past this (a huge document must not take long)

    def _page(self, node: FieldNode, field: GraphQLField) -> int | None:
        definition = field.args.get(PAGE_ARGUMENT)
        if definition is None:
            return None
        value: Any = definition.default_value
        for arg in node.arguments or ():
            if arg.name.value == PAGE_ARGUMENT:
                if isinstance(arg.value, IntValueNode):
                    value = int(arg.value.value)
                elif isinstance(arg.value, VariableNode):
                    value = self.variables.get(arg.value.name.value, definition.default_value)
        return max(1, value) if isinstance(value, int) else 1

    def _fields(self, selections: SelectionSetNode, parent: Any, seen: frozenset[str]) -> Iterator[tuple[FieldNode,
                                                                                                       Any]]:
        for sel in selections.selections:
            if isinstance(sel, FieldNode):
                yield sel, parent
            elif isinstance(sel, InlineFragmentNode):
                kind = self.schema.get_type(sel.type_condition.name.value) if sel.type_condition else parent
                yield from self._fields(sel.selection_set, kind, seen)
            elif isinstance(sel, FragmentSpreadNode):
                name = sel.name.value
                fragment = self.fragments.get(name)
                if fragment is not None and name not in seen:  # a cycle is refused by validation anyway
                    yield from self._fields(fragment.selection_set, self.schema.get_type(
                        fragment.type_condition.name.value), seen | {name})

    def cost(self, selections: SelectionSetNode, parent: Any, in_page: bool) -> int:
        total = 0
        for node, kind in self._fields(selections, parent, frozenset()):
            name = node.name.value
            if name.startswith("__") or not isinstance(kind, (GraphQLObjectType, GraphQLInterfaceType)):
                continue
            field = kind.fields.get(name)
            if field is None:
                continue
            page = self._page(node, field)
            if page is not None:
                times = page
            elif _is_list(field):
                times = 1 if in_page else UNPAGED_LIST
            else:
                times = 1
            inner = 0
            if node.selection_set is not None:
                inner = self.cost(node.selection_set, get_named_type(field.type),
                                  in_page=page is not None and not _is_list(field))
            total += times * (1 + inner)
            if total > self.stop_at:
                return total
        return total


def document_cost(schema: GraphQLSchema, document: Any, operation_name: str | None,
                  variables: Mapping[str, Any] | None, stop_at: int = 10 ** 9) -> int:
    """The cost of the operation the request runs (the named one, or the only one)."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [op for op in operations if op.name is not None and op.name.value == operation_name]
    costing = _Costing(schema, fragments, variables or {}, stop_at)
    worst = 0
    for op in operations:
        root = schema.get_root_type(op.operation)
        if root is not None:
            worst = max(worst, costing.cost(op.selection_set, root, in_page=False))
    return worst


class CostLimiter(SchemaExtension):
    """Refuse, before execution, an operation costing more than ``max_cost``."""

    def __init__(self, *, max_cost: int) -> None:
        self.max_cost = max_cost

    def on_execute(self) -> Iterator[None]:
        ctx = self.execution_context
        if ctx.graphql_document is not None and ctx.result is None:
            cost = document_cost(ctx.schema._schema, ctx.graphql_document, ctx.operation_name, ctx.variables,
                                 stop_at=self.max_cost)
            if cost > self.max_cost:
                ctx.result = ExecutionResult(data=None, errors=[CostTooHigh(cost, self.max_cost)])
        yield
