"""gateway/schema.graphql is the SDL of the code's schema, and the cost of a document is what docs/graphql.md says."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from graphql import parse

from gateway.graphql.context import Context
from gateway.graphql.cost import UNPAGED_LIST, document_cost
from gateway.graphql.loaders import Loaders
from gateway.graphql.reads import Reads
from gateway.graphql.schema import schema
from gateway.upstreams import Upstreams

ROOT = Path(__file__).resolve().parent.parent.parent
SDL = ROOT / "gateway" / "schema.graphql"


def test_the_committed_schema_is_the_codes() -> None:
    assert SDL.read_text().rstrip("\n") == schema.as_str().rstrip("\n"), \
        "gateway/schema.graphql is out of date: run python -m gateway.graphql > gateway/schema.graphql"


def test_the_schema_has_no_mutations_or_subscriptions() -> None:
    assert schema._schema.mutation_type is None and schema._schema.subscription_type is None


def cost(query: str, variables: dict[str, object] | None = None, operation: str | None = None) -> int:
    return document_cost(schema._schema, parse(query), operation, variables)


def test_a_page_multiplies_its_selection_once() -> None:
    # listings(first: 20): 20 x (itself 1 + the list 1 x (id 1 + seller (1 + 1)) + next 1)
    assert cost("{ listings(first: 20) { listings { id seller { displayName } } next } }") == 20 * (1 + 4 + 1)
    assert cost("query($n: Int!) { listings(first: $n) { next } }", {"n": 7}) == 7 * 2
    assert cost("{ listings { next } }") == 20 * 2  # the argument's default
    assert cost("{ listings(first: 20) { next } }") * 10 == cost("{ listings(first: 200) { next } }")


def test_unpaged_lists_nested_lists_fragments_and_aliases_count() -> None:
    assert cost("{ packs { id } }") == UNPAGED_LIST * 2
    assert cost("{ catalog { id price { soft } } }") == UNPAGED_LIST * (1 + 1 + 2)
    fragment = "query { ...F } fragment F on Query { packs { id } }"
    assert cost(fragment) == cost("{ packs { id } }")
    assert cost("{ a: packs { id } b: packs { id } }") == 2 * cost("{ packs { id } }")
    assert cost("{ __typename packs { __typename id } }") == cost("{ packs { id } }")  # introspection is free
    nested = "{ viewer { matches(first: 50) { items { players { name } } } } }"
    assert cost(nested) == 1 + 50 * (1 + 1 * (1 + UNPAGED_LIST * (1 + 1)))


def test_only_the_operation_asked_for_is_counted() -> None:
    doc = "query Small { packs { id } } query Big { listings(first: 200) { listings { id } } }"
    assert cost(doc, operation="Small") == UNPAGED_LIST * 2
    assert cost(doc, operation="Big") == 200 * (1 + 2)


class BrokenReads(Reads):
    """Reads that fail the way a bug of ours would (not an upstream's refusal)."""

    async def get(self, service: str, path: str, query: Mapping[str, str] | None = None, *,
                  anonymous: bool = False) -> Any:
        raise RuntimeError("the secret inner workings")


async def test_our_own_bugs_are_masked_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    reads = BrokenReads(Upstreams({}), None)
    with caplog.at_level(logging.ERROR):
        result = await schema.execute("{ packs { id } queues { mode } }",
                                      context_value=Context(reads=reads, loaders=Loaders(reads)))
    assert result.data == {"packs": None, "queues": None}
    assert result.errors is not None and len(result.errors) == 2
    for error in result.errors:
        formatted = error.formatted
        assert formatted["message"] == "something went wrong on our side"
        assert formatted["extensions"] == {"code": "internal", "status": 500}
        assert "secret" not in str(formatted)
    assert "the secret inner workings" in caplog.text  # the operator sees what the client does not
