"""The audit trail: append-only events, never a secret."""

from adapters.audit.base import Audit

__all__ = ["Audit"]
