"""Polaris Hub client."""
