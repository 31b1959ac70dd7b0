"""Operators for AWS calls the Amazon provider has no operator for (hook-based, templated)."""
