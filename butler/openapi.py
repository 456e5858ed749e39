"""The butler's OpenAPI 3.1 document (``GET /v1/openapi.json``), built from the same constants the
handlers check, so the two cannot drift apart (a test compares it with the routes)."""

from __future__ import annotations

from typing import Any

from butler import chat_api, prefs, sse, turns
from butler.api import MAX_PAGE
from butler.settings import ButlerSettings

PROBLEM = {"description": "A problem (RFC 9457)",
           "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def _problems(*statuses: int) -> dict[str, Any]:
    return {str(s): PROBLEM for s in statuses}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _op(operation_id: str, tag: str, summary: str, responses: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"operationId": operation_id, "tags": [tag], "summary": summary, "security": [{"bearer": []}],
            "responses": responses, **more}


def _probe(operation_id: str, summary: str, responses: dict[str, Any]) -> dict[str, Any]:
    return {"operationId": operation_id, "tags": ["probes"], "summary": summary, "responses": responses}


ID = {"type": "string", "pattern": "^" + chat_api.CONVERSATION_ID.pattern + "$"}
USAGE = {"type": "object", "required": ["prompt_tokens", "completion_tokens"],
         "properties": {"prompt_tokens": {"type": "integer", "minimum": 0},
                        "completion_tokens": {"type": "integer", "minimum": 0}}}


# What a player says: a read, an action that asks, a queue (``examples`` of the chat's message).
MESSAGE_EXAMPLES = ("how much gold do I have", "sell my speed boots for 40 gold", "find me a match in europe")
# A page's first conversation, to read or forget.
CONVERSATION_LINKS = {name: {"operationId": operation_id,
                             "parameters": {"conversation_id": "$response.body#/items/0/id"}}
                      for name, operation_id in (("GetFirstConversation", "getConversation"),
                                                 ("DeleteFirstConversation", "deleteConversation"))}


def _data(required: list[str], **properties: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties}


# Each event's data (the table in butler/turns.py and docs/butler.md).
EVENT_DATA: dict[str, dict[str, Any]] = {
    sse.CONVERSATION: _data(["id"], id=ID),
    turns.TEXT: _data(["delta"], delta={"type": "string"}),
    turns.TOOL_START: _data(["call_id", "tool", "arguments"], call_id={"type": "string"}, tool={"type": "string"},
                            arguments={"type": "object"}),
    turns.TOOL_END: _data(["call_id", "tool", "outcome", "result"], call_id={"type": "string"},
                          tool={"type": "string"}, outcome={"type": "string", "enum": ["ok", "error", "proposed"]}),
    turns.PROPOSAL: _data(["id", "tool", "category", "terms", "summary", "expires_at"], id={"type": "string"},
                          tool={"type": "string"}, category={"type": "string", "enum": list(turns.CATEGORIES)},
                          terms={"type": "object"}, summary={"type": "string"},
                          expires_at={"type": "string", "format": "date-time"}),
    turns.DONE: _data(["message", "usage"], message={"type": "string"}, usage=USAGE),
    turns.ERROR: _data(["code", "detail"], code={"type": "string"}, detail={"type": "string"}, usage=USAGE),
}


def chat_event() -> dict[str, Any]:
    """One server-sent event of a chat stream (OpenAPI 3.1 reads a text/event-stream schema as one event):
    its ``event`` type, its ``data`` a line of JSON of that type's shape."""
    return {"oneOf": [{"type": "object", "required": ["event", "data"],
                       "properties": {"event": {"const": kind},
                                      "data": {"type": "string", "contentMediaType": "application/json",
                                               "contentSchema": data}}}
                      for kind, data in EVENT_DATA.items()]}


CONVERSATION_PARAM = {"name": "conversation_id", "in": "path", "required": True, "schema": ID}


def build(settings: ButlerSettings) -> dict[str, Any]:
    events = ", ".join(EVENT_DATA)
    settings_schema: dict[str, Any] = {
        "type": "object", "additionalProperties": False,
        "properties": {
            "persona": {"type": "string", "maxLength": prefs.MAX_PERSONA},
            "tone": {"type": "string", "enum": list(prefs.TONES)},
            "language": {"type": "string", "pattern": "^" + prefs.LANGUAGE.pattern + "$"},
            "auto_approve": {"type": "array", "uniqueItems": True,
                             "items": {"type": "string", "enum": list(turns.MAY_SKIP_ASKING)}},
            "daily_token_budget": {"type": "integer", "minimum": 0, "maximum": settings.max_daily_tokens},
        }}
    schemas: dict[str, Any] = {
        "Problem": {"type": "object", "required": ["type", "title", "status", "code"],
                    "properties": {"type": {"type": "string"}, "title": {"type": "string"},
                                   "status": {"type": "integer"}, "detail": {"type": "string"},
                                   "code": {"type": "string"}, "instance": {"type": "string"},
                                   "errors": {"type": "object", "additionalProperties": {"type": "string"}}}},
        "ChatRequest": {"type": "object", "additionalProperties": False, "required": ["message"],
                        "properties": {"message": {"type": "string", "minLength": 1,
                                                   "maxLength": chat_api.MAX_MESSAGE_CHARS,
                                                   "examples": list(MESSAGE_EXAMPLES)},
                                       "conversation_id": ID}},
        "ConfirmRequest": {"type": "object", "additionalProperties": False, "required": ["proposal_id"],
                           "properties": {"proposal_id": {"type": "string",
                                                          "pattern": "^" + chat_api.PROPOSAL_ID.pattern + "$"}}},
        "Confirmation": {"type": "object", "required": ["proposal_id", "tool", "category", "terms", "summary",
                                                        "result"],
                         "properties": {"proposal_id": {"type": "string"}, "tool": {"type": "string"},
                                        "category": {"type": "string", "enum": list(turns.CATEGORIES)},
                                        "terms": {"type": "object"}, "summary": {"type": "string"},
                                        "result": {"type": "object"}}},
        "ChatEvent": chat_event(),
        "Settings": settings_schema,
        "SettingsUpdate": {**settings_schema, "description": "any subset of the settings; the others keep theirs"},
        "ConversationSummary": {"type": "object", "required": ["id", "title", "created_at", "updated_at", "messages"],
                                "properties": {"id": {"type": "string"}, "title": {"type": "string"},
                                               "created_at": {"type": "string", "format": "date-time"},
                                               "updated_at": {"type": "string", "format": "date-time"},
                                               "messages": {"type": "integer"}}},
        "ConversationPage": {"type": "object", "required": ["items", "next_cursor"],
                             "properties": {"items": {"type": "array", "items": _ref("ConversationSummary")},
                                            "next_cursor": {"type": ["string", "null"]}}},
        "Conversation": {"allOf": [_ref("ConversationSummary"), {
            "type": "object", "required": ["entries"],
            "properties": {"entries": {"type": "array", "items": {
                "type": "object", "required": ["role"],
                "properties": {"role": {"type": "string", "enum": ["user", "assistant", "tool", "proposal",
                                                                   "confirmation", "error"]}}}}}}]},
    }
    paths: dict[str, Any] = {
        "/v1/chat": {"post": _op(
            "chat", "chat", "Send a message; the answer streams as server-sent events",
            {"200": {"description": f"text/event-stream of the events {events}; the last is done or error",
                     "content": {"text/event-stream": {"schema": _ref("ChatEvent")}}},
             **_problems(400, 401, 404, 413, 415, 422, 429, 503)},
            requestBody={"required": True, "content": {"application/json": {"schema": _ref("ChatRequest")}}})},
        "/v1/chat/confirm": {"post": _op(
            "confirmProposal", "chat", "Perform an action the butler proposed, with exactly its terms",
            {"200": _json(_ref("Confirmation"), "Performed"), **_problems(400, 401, 403, 404, 409, 410, 413, 415,
                                                                           422, 429, 503)},
            requestBody={"required": True, "content": {"application/json": {"schema": _ref("ConfirmRequest")}}})},
        "/v1/butler/settings": {
            "get": _op("getButlerSettings", "settings", "The player's butler settings",
                       {"200": _json(_ref("Settings"), "The settings"), **_problems(401, 503)}),
            "put": _op("putButlerSettings", "settings", "Change some of the player's butler settings",
                       {"200": _json(_ref("Settings"), "The settings now"), **_problems(400, 401, 413, 415, 422, 503)},
                       requestBody={"required": True,
                                    "content": {"application/json": {"schema": _ref("SettingsUpdate")}}})},
        "/v1/conversations": {"get": _op(
            "listConversations", "conversations", "The player's conversations, newest first",
            {"200": {**_json(_ref("ConversationPage"), "A page"), "links": CONVERSATION_LINKS},
             **_problems(400, 401, 503)},
            parameters=[{"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1,
                                                                    "maximum": MAX_PAGE}},
                        {"name": "cursor", "in": "query", "description": "the next_cursor of the previous page",
                         "schema": ID}])},
        "/v1/conversations/{conversation_id}": {
            "get": _op("getConversation", "conversations", "One conversation as the player saw it",
                       {"200": _json(_ref("Conversation"), "The conversation"), **_problems(401, 404, 503)},
                       parameters=[CONVERSATION_PARAM]),
            "delete": _op("deleteConversation", "conversations", "Forget a conversation",
                          {"204": {"description": "Deleted"}, **_problems(401, 404, 503)},
                          parameters=[CONVERSATION_PARAM])},
        "/healthz": {"get": _probe("healthz", "Liveness", {"200": {"description": "Alive"},
                                                           "503": {"description": "Failing"}})},
        "/readyz": {"get": _probe("readyz", "Readiness (MongoDB and Redis reachable, not draining)",
                                  {"200": {"description": "Ready"}, "503": {"description": "Not ready"}})},
        "/metrics": {"get": _probe("metrics", "Prometheus metrics",
                                   {"200": {"description": "Prometheus text",
                                            "content": {"text/plain": {"schema": {"type": "string"}}}}})},
        "/v1/openapi.json": {"get": _probe("openapi", "This document", {"200": {"description": "OpenAPI 3.1"}})},
    }
    return {"openapi": "3.1.0",
            "info": {"title": "Elysium butler", "version": "1",
                     "description": "The AI concierge: chat (server-sent events), confirmations, settings and "
                                    "conversations. See docs/butler.md."},
            "paths": paths,
            "components": {"schemas": schemas,
                           "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                                          "bearerFormat": "JWT"}}}}
