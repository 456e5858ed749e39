"""King of the hill's pure rules, driven step by step without a room or a socket."""

from __future__ import annotations

import numpy as np
import pytest

from gameserver.modes import koth_rules as kr

HZ = 20


def game(seats: int = 4, seed: int = 1, **rules: float) -> kr.KingOfTheHill:
    g = kr.KingOfTheHill(seats, kr.Rules(tick_hz=HZ, **rules), np.random.default_rng(seed))  # type: ignore[arg-type]
    for seat in range(seats):
        g.join(seat, seat % 2)
    return g


def place(g: kr.KingOfTheHill, seat: int, x: float, y: float) -> None:
    g.pos[seat] = (x, y)


def idle(g: kr.KingOfTheHill, steps: int = 1) -> list[kr.StepReport]:
    return [g.step(kr.Controls.idle(g.seats)) for _ in range(steps)]


def on_hill(g: kr.KingOfTheHill, *seats: int) -> None:
    cx, cy = g.hill_centre()
    for i, seat in enumerate(seats):
        place(g, seat, cx + 0.3 * i, cy)


def away(g: kr.KingOfTheHill, *seats: int) -> None:
    for seat in seats:
        place(g, seat, kr.SPAWN_X[int(g.team[seat])], 1.0)


def random_controls(rng: np.random.Generator, seats: int) -> kr.Controls:
    return kr.Controls(rng.uniform(-1.2, 1.2, (seats, 2)), rng.random(seats) < 0.5, rng.random(seats) < 0.1)


def run(seed: int, steps: int = 600) -> tuple[list[np.ndarray], list[np.ndarray], list[list[dict[str, object]]]]:
    g = game(8, seed=seed, hill_move_s=5.0)
    rng = np.random.default_rng(99)
    wires, hills, events = [], [], []
    for _ in range(steps):
        report = g.step(random_controls(rng, 8))
        wires.append(g.wire.copy())
        hills.append(g.hill.copy())
        events.append(report.events)
    return wires, hills, events


def test_the_same_seed_and_inputs_give_the_same_match_twice() -> None:
    a, b = run(5), run(5)
    assert all(np.array_equal(x, y) for x, y in zip(a[0], b[0]))
    assert all(np.array_equal(x, y) for x, y in zip(a[1], b[1]))
    assert a[2] == b[2]
    assert any(a[2])  # the random inputs did shove and capture: the comparison compared something
    other = run(6)
    assert not all(np.array_equal(x, y) for x, y in zip(a[0], other[0]))


def test_spawns_are_at_each_teams_end_and_the_hill_starts_on_a_site() -> None:
    g = game(6)
    assert (g.pos[g.team == 0, 0] == kr.SPAWN_X[0]).all() and (g.pos[g.team == 1, 0] == kr.SPAWN_X[1]).all()
    assert sorted(g.site_order) == [0, 1, 2]
    assert g.hill.tolist() == [[1, *(int(v) for v in kr.HILL_SITES[g.site_order[0]] * 100), 400, -1, -1, 0]]
    with pytest.raises(ValueError):
        g.join(0, 2)


def test_standing_alone_on_the_hill_captures_it_then_each_holder_scores_a_point_a_second() -> None:
    g = game(4)
    on_hill(g, 0, 2)
    away(g, 1, 3)
    capture = g.capture_ticks
    reports = idle(g, capture - 1)
    assert g.owner == kr.NEUTRAL and g.capturer == 0 and not any(r.events for r in reports)
    assert g.hill[0, 6] == (capture - 1) * 100 // capture // 5 * 5  # progress in 5 % steps
    (report,) = idle(g)
    assert report.events == [{"k": "capture", "team": 0, "by": [0, 2]}]
    assert g.owner == 0 and g.wire[0, kr.CAPTURES] == g.wire[2, kr.CAPTURES] == 1
    assert g.wire[:, kr.ON_HILL].tolist() == [1, 0, 1, 0]
    idle(g, HZ - 1)
    assert g.wire[:, kr.SCORE].tolist() == [0, 0, 0, 0]
    idle(g)
    assert g.wire[:, kr.SCORE].tolist() == [1, 0, 1, 0] and g.team_points == [2, 0]
    away(g, 2)  # one holder left on the hill: one point a second
    idle(g, HZ)
    assert g.wire[:, kr.SCORE].tolist() == [2, 0, 1, 0] and g.team_points == [3, 0]


def test_a_contested_hill_neither_captures_nor_scores() -> None:
    g = game(2)
    on_hill(g, 0, 1)
    idle(g, g.capture_ticks * 3)
    assert g.owner == kr.NEUTRAL and g.progress == 0 and g.team_points == [0, 0]
    g.owner = 0  # held by team 0 but contested: no points either
    idle(g, HZ * 3)
    assert g.team_points == [0, 0]


def test_an_abandoned_capture_drains_and_a_rival_capture_starts_from_nothing() -> None:
    g = game(2)
    on_hill(g, 0)
    away(g, 1)
    idle(g, 10)
    assert (g.capturer, g.progress) == (0, 10)
    away(g, 0)
    idle(g, 4)
    assert (g.capturer, g.progress) == (0, 6)
    on_hill(g, 1)
    idle(g)
    assert (g.capturer, g.progress) == (1, 1)
    away(g, 1)
    idle(g)
    assert (g.capturer, g.progress) == (kr.NEUTRAL, 0)


def test_the_match_ends_when_a_team_reaches_the_score_limit_and_left_players_points_count() -> None:
    g = game(4, score_limit=6)
    g.owner = 0
    on_hill(g, 0, 2)
    away(g, 1, 3)
    reports = idle(g, HZ * 2)
    assert g.team_points == [4, 0] and all(r.finished is None for r in reports)
    g.leave(2)  # seat 2's two points stay with team 0
    assert not g.present[2]
    reports = idle(g, HZ * 2)
    assert g.team_points == [6, 0] and reports[-1].finished == "score"
    assert [r.finished for r in reports[:-1]] == [None] * (HZ * 2 - 1)


def test_the_time_limit_ends_the_match() -> None:
    g = game(2, time_limit_s=2.0)
    reports = idle(g, HZ * 2)
    assert reports[-1].finished == "time" and all(r.finished is None for r in reports[:-1])


def test_the_hill_moves_to_the_next_site_and_forgets_its_owner() -> None:
    g = game(2, hill_move_s=3.0)
    first = g.hill_centre()
    g.owner = 0
    reports = idle(g, HZ * 3)
    second = kr.HILL_SITES[g.site_order[1]]
    assert g.hill_centre() == tuple(second) != first
    assert reports[-1].events == [{"k": "hill", "x": int(second[0] * 100), "y": int(second[1] * 100)}]
    assert g.owner == kr.NEUTRAL and g.hill[0, 4] == kr.NEUTRAL


def test_the_hill_object_is_issued_afresh_only_when_it_changes() -> None:
    g = game(2)
    away(g, 0, 1)
    before = g.hill
    idle(g, 5)
    assert g.hill is before  # nothing changed: the same array, so a delta carries no objects
    on_hill(g, 0)
    seen = {int(before[0, 0])}
    for _ in range(g.capture_ticks):
        idle(g)
        seen.add(int(g.hill[0, 0]))
    assert g.hill[0, 0] > before[0, 0] and g.hill[0, 4] == 0  # owned by team 0 under a newer id
    # The first id, one when team 0 starts capturing (at 0 %), one per step from 5 % to 95 %, the capture.
    assert len(seen) == 1 + 1 + (100 // kr.PROGRESS_STEP_PCT - 1) + 1


def test_a_shove_knocks_nearby_enemies_back_and_stuns_them() -> None:
    g = game(4)
    place(g, 0, 20.0, 3.0)  # team 0 shoves
    place(g, 1, 21.5, 3.0)  # an enemy in range
    place(g, 2, 21.0, 3.0)  # a teammate in range: untouched
    place(g, 3, 23.0, 3.0)  # an enemy out of range
    controls = kr.Controls.idle(4)
    controls.shove[0] = True
    report = g.step(controls)
    assert report.events == [{"k": "shove", "who": 0, "hit": [1]}]
    assert g.wire[0, kr.SHOVES] == 1 and g.wire[:, kr.STUNNED].tolist() == [0, 1, 0, 0]
    assert g.pos[1, 0] == pytest.approx(21.5 + kr.KNOCKBACK_SPEED / HZ)  # pushed straight away
    assert g.pos[2, 0] == 21.0 and g.pos[3, 0] == 23.0
    # Stunned: its own inputs do nothing, and it drifts on until the stun ends.
    push_back = kr.Controls.idle(4)
    push_back.move[1] = (-1.0, 0.0)
    push_back.shove[1] = True
    for _ in range(g.stun_ticks - 1):
        assert g.step(push_back).events == []
    assert g.pos[1, 0] == pytest.approx(21.5 + kr.KNOCKBACK_SPEED * kr.STUN_S)
    assert g.wire[1, kr.STUNNED] == 1
    g.step(push_back)  # free again: it walks back (and shoves, out of range)
    assert g.pos[1, 0] == pytest.approx(21.5 + kr.KNOCKBACK_SPEED * kr.STUN_S - kr.WALK_SPEED / HZ)
    assert g.wire[1, kr.STUNNED] == 0


def test_a_shove_waits_for_its_cooldown() -> None:
    g = game(2)
    place(g, 0, 20.0, 3.0)
    place(g, 1, 21.0, 3.0)
    controls = kr.Controls.idle(2)
    controls.shove[0] = True
    hits = []
    for _ in range(g.cooldown_ticks + 1):
        place(g, 1, 21.0, 3.0)  # keep the target in range
        g.stunned_until[1] = 0
        hits.append(bool(g.step(controls).events))
    assert hits == [True] + [False] * (g.cooldown_ticks - 1) + [True]


def test_a_stunned_player_does_not_count_on_the_hill() -> None:
    g = game(2)
    on_hill(g, 0, 1)
    g.stunned_until[1] = 10**6
    idle(g, g.capture_ticks)
    assert g.owner == 0 and g.wire[:, kr.ON_HILL].tolist() == [1, 0]


def test_sprinting_is_faster_and_costs_stamina_until_it_runs_out() -> None:
    g = game(2)
    place(g, 0, 5.0, 2.0)
    place(g, 1, 5.0, 30.0)
    controls = kr.Controls.idle(2)
    controls.move[:] = (1.0, 0.0)
    controls.sprint[0] = True
    g.step(controls)
    assert g.pos[0, 0] == pytest.approx(5.0 + kr.SPRINT_SPEED / HZ)
    assert g.pos[1, 0] == pytest.approx(5.0 + kr.WALK_SPEED / HZ)
    assert g.wire[:, kr.STAMINA].tolist() == [98, 100]
    g.pos[0, 0] = 5.0
    for _ in range(round(kr.MAX_STAMINA / kr.SPRINT_DRAIN_PER_S * HZ) - 1):
        g.step(controls)
        g.pos[0, 0] = 5.0  # keep clear of the wall
    assert g.stamina[0] == 0.0 and g.winded[0]
    # Out of breath: walking pace, however long sprint is held, until stamina is back to WINDED_UNTIL.
    regain = round(kr.WINDED_UNTIL / kr.STAMINA_REGAIN_PER_S * HZ)
    for _ in range(regain):
        x = g.pos[0, 0]
        g.step(controls)
        assert g.pos[0, 0] == pytest.approx(x + kr.WALK_SPEED / HZ)
    assert g.stamina[0] == pytest.approx(kr.WINDED_UNTIL) and not g.winded[0]
    x = g.pos[0, 0]
    g.step(controls)
    assert g.pos[0, 0] == pytest.approx(x + kr.SPRINT_SPEED / HZ)


def test_a_longer_move_than_one_is_cut_to_one() -> None:
    g = game(2)
    place(g, 0, 5.0, 2.0)
    controls = kr.Controls.idle(2)
    controls.move[0] = (3.0, 4.0)
    g.step(controls)
    assert g.pos[0] == pytest.approx((5.0 + 0.6 * kr.WALK_SPEED / HZ, 2.0 + 0.8 * kr.WALK_SPEED / HZ))


def test_walls_and_obstacles_block_movement() -> None:
    g = game(2)
    place(g, 0, 0.6, 0.6)
    x0, y0, _, _ = kr.OBSTACLES[0]
    place(g, 1, x0 - kr.PLAYER_RADIUS - 0.01, y0 + 1.0)  # just left of the first obstacle
    controls = kr.Controls.idle(2)
    controls.move[0] = (-1.0, -1.0)
    controls.move[1] = (1.0, 0.0)
    for _ in range(HZ):
        g.step(controls)
    assert g.pos[0].tolist() == [kr.PLAYER_RADIUS, kr.PLAYER_RADIUS]
    assert g.pos[1].tolist() == pytest.approx([x0 - kr.PLAYER_RADIUS - 0.01, y0 + 1.0])
    controls.move[1] = (1.0, 1.0)  # sliding along the face still moves along it
    g.step(controls)
    assert g.pos[1, 1] > y0 + 1.0 and g.pos[1, 0] == pytest.approx(x0 - kr.PLAYER_RADIUS - 0.01)


def test_an_absent_seat_is_ignored() -> None:
    g = game(3)
    g.leave(2)
    on_hill(g, 0, 2)
    away(g, 1)
    controls = kr.Controls.idle(3)
    controls.move[2] = (1.0, 0.0)
    idle(g, g.capture_ticks)
    assert g.owner == 0 and g.wire[2, kr.ON_HILL] == 0 and g.ticks_played[2] == 0
