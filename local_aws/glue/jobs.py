"""(being written)"""


def install() -> None:
    """Patch moto so this service's work really executes (idempotent)."""


def shutdown() -> None:
    """Stop this executor's workers."""
