"""Behaviours send inputs the server accepts, deterministically for a seed."""

from __future__ import annotations

from collections import Counter

import msgpack

from gameserver import protocol as p
from loadtest.behaviour import BEHAVIOURS, Mix


def _inputs(name: str, seed: int, ticks: int) -> list[tuple[float, float, float, bool] | None]:
    mix = Mix({name: 1}, seed)
    b = mix.make(3)
    return [b.step() for _ in range(ticks)]


def test_every_behaviour_sends_inputs_the_server_accepts() -> None:
    for name in BEHAVIOURS:
        seq = 0
        for move in _inputs(name, 7, 400):
            if move is None:
                continue
            seq += 1
            data = msgpack.packb({"t": "input", "i": [[seq, *move]]})
            decoded = p.decode_client(data)  # raises ProtocolViolation on anything out of range
            assert isinstance(decoded, p.Inputs) and decoded.inputs[0][0] == seq
        assert seq > 0, name


def test_same_seed_same_inputs_and_another_seed_differs() -> None:
    assert _inputs("roamer", 11, 200) == _inputs("roamer", 11, 200)
    assert _inputs("roamer", 11, 200) != _inputs("roamer", 12, 200)


def test_idle_players_send_one_input_a_second_and_never_fire() -> None:
    moves = _inputs("idle", 1, 100)
    sent = [m for m in moves if m is not None]
    assert len(sent) == 5 and not any(m[3] for m in sent)


def test_fighting_behaviours_fire_sometimes_but_not_always() -> None:
    for name in ("roamer", "strafer", "camper"):
        fired = sum(1 for m in _inputs(name, 5, 2000) if m and m[3])
        assert 0 < fired < 2000, name


def test_the_mix_follows_its_weights() -> None:
    mix = Mix({"roamer": 3, "idle": 1, "camper": 0}, seed=9)
    picked = Counter(mix.pick(i)[0] for i in range(4000))
    assert set(picked) == {"roamer", "idle"}
    assert 0.70 < picked["roamer"] / 4000 < 0.80
    assert [mix.pick(i)[0] for i in range(50)] == [Mix({"roamer": 3, "idle": 1}, 9).pick(i)[0] for i in range(50)]
