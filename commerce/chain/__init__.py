"""Commerce on chain: the adapter (``adapter``), the embedded chain server (``embedded``), custody of
items as ERC-1155 tokens (``custody``, ``reconciler``) and the on-chain half of the audit.

The contracts' compiled artifacts and revert decoding live beside them (``artifacts``, ``errors``),
and the works and licences API (``works``).
"""
