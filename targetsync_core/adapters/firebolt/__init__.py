"""Firebolt as a target (issue 24), through firebolt-sdk (imported lazily)."""
from targetsync_core.adapters.firebolt.adapter import FireboltDatabase

__all__ = ["FireboltDatabase"]
