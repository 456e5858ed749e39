"""Which ERC-1155 token id stands for an item (the scheme ElysiumItems enforces). Pure; no I/O.

- A stackable item type is one token id: the top 128 bits of keccak256 of the catalog item
  type's id, a number below 2**128 (every item of the type is one unit of it).
- An item of a non-stackable type is its own token: bit 255 set and the item's 128-bit id (the
  inventory ``_id``, 32 hex digits) in the low 128 bits; the contract refuses to mint it with an
  amount other than one or while it exists.

The ranges are disjoint and each id maps back to what it names: :func:`unique_item_of` gives the
inventory id, and a type token's catalog id is found by hashing the known types.
"""

from __future__ import annotations

from collections.abc import Iterable

from eth_utils.crypto import keccak

UNIQUE_FLAG = 1 << 255  # ElysiumItems.UNIQUE_FLAG
_LOW_128 = (1 << 128) - 1


class TokenIdError(ValueError):
    """A value is not a valid item type, unique item id or token id."""


def type_token(item_type: str) -> int:
    """The token id of a stackable item type of the catalog."""
    if not item_type:
        raise TokenIdError("an item type id must not be empty")
    return int.from_bytes(keccak(text=item_type)[:16], "big")


def unique_token(item_id: str) -> int:
    """The token id of one item of a non-stackable type, from its inventory id (32 hex digits)."""
    if len(item_id) != 32:
        raise TokenIdError(f"item id {item_id!r} is not 32 hex digits")
    try:
        value = int(item_id, 16)
    except ValueError:
        raise TokenIdError(f"item id {item_id!r} is not hexadecimal") from None
    return UNIQUE_FLAG | value


def token_of(item_id: str, item_type: str, stackable: bool) -> int:
    return type_token(item_type) if stackable else unique_token(item_id)


def is_unique(token_id: int) -> bool:
    return bool(token_id & UNIQUE_FLAG)


def unique_item_of(token_id: int) -> str:
    """The inventory id of the unique item ``token_id`` names."""
    if not is_unique(token_id) or token_id >> 128 != UNIQUE_FLAG >> 128:
        raise TokenIdError(f"token {token_id} is not a unique item's token id")
    return f"{token_id & _LOW_128:032x}"


def item_type_of(token_id: int, item_types: Iterable[str]) -> str | None:
    """Which of ``item_types`` a stackable token id names, None when none does."""
    return next((t for t in item_types if type_token(t) == token_id), None)
