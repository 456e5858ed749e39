"""placeholder"""
from strawberry.extensions import SchemaExtension


class CostLimiter(SchemaExtension):
    def __init__(self, *, max_cost: int) -> None:
        self.max_cost = max_cost
