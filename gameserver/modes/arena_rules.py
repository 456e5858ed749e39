"""The arena's rules and map: numbers in SI units (metres, seconds) unless named otherwise."""

from __future__ import annotations

import numpy as np

WIDTH = 64.0  # m
HEIGHT = 64.0  # m
PLAYER_RADIUS = 0.5  # m
PLAYER_SPEED = 6.0  # m/s
PROJECTILE_SPEED = 24.0  # m/s
PROJECTILE_LIFETIME_S = 1.2
FIRE_COOLDOWN_S = 0.25
DAMAGE = 25
MAX_HEALTH = 100
RESPAWN_DELAY_S = 2.0
# Axis-aligned boxes (x0, y0, x1, y1) that block players and projectiles.
OBSTACLES = np.array(
    [[14, 14, 20, 20], [44, 14, 50, 20], [14, 44, 20, 50], [44, 44, 50, 50], [29, 29, 35, 35]],
    dtype=np.float64,
)
R = PLAYER_RADIUS
# Obstacles grown by the player radius: a player's centre may not enter these.
PX0, PY0 = OBSTACLES[:, 0] - R, OBSTACLES[:, 1] - R
PX1, PY1 = OBSTACLES[:, 2] + R, OBSTACLES[:, 3] + R
OX0, OY0, OX1, OY1 = OBSTACLES.T
LOW = np.array([R, R])
HIGH = np.array([WIDTH - R, HEIGHT - R])
SPAWNS = np.array(
    [[6, 6], [58, 6], [6, 58], [58, 58], [32, 6], [32, 58], [6, 32], [58, 32],
     [24, 24], [40, 40], [24, 40], [40, 24]],
    dtype=np.float64,
)

# Columns of the wire matrix: the replicated state of each player slot, in wire units.
X, Y, AIM, HP, ALIVE, SCORE, KILLS, DEATHS, TEAM = range(9)
