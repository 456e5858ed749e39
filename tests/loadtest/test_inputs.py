"""The hot path's hand-made encodings agree with msgpack and with the game server's decoder, and any
other mode's inputs are encoded from the schema its welcome carries."""

from __future__ import annotations

import msgpack
import pytest

from gameserver import protocol as p
from gameserver.modes import MODES
from loadtest.behaviour import SmallRng
from loadtest.inputs import ARENA_ROW, SchemaError, SchemaInputs, delta_header, encode_input


@pytest.mark.parametrize("seq", [1, 127, 128, 65_536, 2**32 - 1])
def test_an_encoded_input_is_the_message_packb_gives_and_the_server_accepts_it(seq: int) -> None:
    move = (0.25, -1.0, 3.0, True)
    data = encode_input(seq, move)
    assert msgpack.unpackb(data) == {"t": "input", "i": [[seq, *move]]}
    decoded = p.decode_client(data)
    assert isinstance(decoded, p.Inputs) and decoded.inputs[0] == p.Input(seq, *move)
    assert msgpack.unpackb(encode_input(seq, (0.0, 0.0, -3.0, False)))["i"][0][4] is False


@pytest.mark.parametrize("n", [0, 5, 127, 128, 255, 256, 65_535, 65_536, 2**32 - 1])
def test_the_delta_header_is_read_from_the_first_bytes(n: int) -> None:
    ts = 1_796_182_842_144_788
    data = msgpack.packb({"t": "delta", "n": n, "ts": ts, "p": [[0, 1, 2, 3]], "a": [[0, 9]]})
    assert delta_header(data) == (n, ts)


def test_anything_laid_out_otherwise_is_left_to_the_full_decoder() -> None:
    ts = 1_796_182_842_144_788
    assert delta_header(msgpack.packb({"t": "delta", "ts": ts, "n": 1})) is None  # keys in another order
    assert delta_header(msgpack.packb({"t": "delta", "n": 1, "ts": 5})) is None  # ts not a uint64
    assert delta_header(msgpack.packb({"t": "delta", "n": -1, "ts": ts})) is None
    assert delta_header(msgpack.packb({"t": "keyframe", "n": 1, "ts": ts})) is None
    assert delta_header(msgpack.packb({"t": "delta", "n": 1, "ts": ts})[:-3]) is None  # cut short


@pytest.mark.parametrize("mode", sorted(MODES))
def test_any_modes_input_is_encoded_from_its_welcome_schema_and_the_server_accepts_it(mode: str) -> None:
    schema = MODES[mode].input_schema
    wire = schema.to_json()  # what the mode's welcome carries in "input"
    encoder = SchemaInputs.of(wire, SmallRng(7))
    if tuple(wire["row"]) == ARENA_ROW:
        assert encoder is None  # the arena keeps the hand-made fast path
        return
    assert encoder is not None
    for seq in (1, 2, 300, 2**32 - 1):
        for move in ((1.0, -1.0, 3.0, True), (0.0, 0.5, -3.0, False)):
            data = encoder.encode(seq, move)
            decoded = p.decode_client(data, schema=schema)
            assert isinstance(decoded, p.Inputs) and decoded.inputs[0][0] == seq
            row = msgpack.unpackb(data)["i"][0]
            named = dict(zip(wire["row"], row))
            if "move_x" in named:  # the behaviour's movement goes to the fields of that name
                assert (named["move_x"], named["move_y"]) == (move[0], move[1])


def test_an_input_schema_the_tester_cannot_read_is_refused_with_its_reason() -> None:
    with pytest.raises(SchemaError, match="no fields"):
        SchemaInputs.of({"row": ["seq", "x"], "fields": []}, SmallRng(1))
    with pytest.raises(SchemaError, match="'x' has type 'vector'"):
        SchemaInputs.of({"row": ["seq", "x"], "fields": [{"name": "x", "type": "vector"}]}, SmallRng(1))
    with pytest.raises(SchemaError, match="no choices"):
        SchemaInputs.of({"row": ["seq", "x"], "fields": [{"name": "x", "type": "enum", "choices": []}]}, SmallRng(1))
    assert SchemaInputs.of(None, SmallRng(1)) is None  # a server before the mode API: the arena's row
