"""Match ids as the kernel defines them: a custom game's names its code, queue mode and rank."""

from __future__ import annotations

from elysium import matchids


def test_custom_match_ids_name_their_game_mode_and_rank() -> None:
    for ranked in (False, True):
        match_id = matchids.custom_match_id("AB12CD", "team-arena", ranked=ranked)
        assert len(match_id) <= 64
        assert matchids.parse_custom_match_id(match_id) == matchids.CustomMatch("AB12CD", "team-arena", ranked)
        longest = matchids.custom_match_id("ZZZZZZ", "m" * 24, ranked=ranked)
        assert len(longest) <= 64 and matchids.parse_custom_match_id(longest) == matchids.CustomMatch(
            "ZZZZZZ", "m" * 24, ranked)
    assert matchids.custom_match_id("AB12CD", "duel", ranked=True).startswith("duel.")  # rated by its mode
    for other in ("duel.0123", "custom-AB12CD.0123", "custom-ab12cd.duel." + "0" * 24, "custom-AB12CD.duel.xyz",
                  "duel.custom-AB12CD.xyz"):
        assert matchids.parse_custom_match_id(other) is None
    assert matchids.is_unranked_custom(matchids.custom_match_id("AB12CD", "duel"))
    assert not matchids.is_unranked_custom(matchids.custom_match_id("AB12CD", "duel", ranked=True))
    assert not matchids.is_unranked_custom("duel.0123456789abcdef01234567")
