"""Thin Dagster assets and asset checks over the domain packages."""
