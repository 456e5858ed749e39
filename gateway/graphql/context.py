"""What every resolver of one request shares: the caller's upstream reads and the request's loaders."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

import strawberry

if TYPE_CHECKING:
    from gateway.graphql.loaders import Loaders
    from gateway.graphql.reads import Reads


@dataclass
class Context:
    reads: Reads
    loaders: Loaders


Info: TypeAlias = strawberry.Info[Context, None]
