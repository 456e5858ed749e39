"""Test helpers a studio's own tests import (no pytest needed to import them)."""
