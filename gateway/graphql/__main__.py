"""``python -m gateway.graphql`` prints the schema's SDL (what ``gateway/schema.graphql`` holds)."""

from gateway.graphql.schema import schema

print(schema.as_str())
