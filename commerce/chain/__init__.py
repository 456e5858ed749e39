"""Commerce's side of the chain: the compiled contracts, revert decoding and the works API."""
