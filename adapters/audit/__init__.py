"""The audit trail: append-only events, never a secret."""

from adapters.audit.base import Audit, AuditObserver, AuditSink
from adapters.audit.jsonl import JsonlFile, JsonlReader
from adapters.audit.settings import AuditSettings
from adapters.audit.stdout import StdoutLines
from adapters.audit.trail import AuditTrail

__all__ = [
    "Audit",
    "AuditObserver",
    "AuditSettings",
    "AuditSink",
    "AuditTrail",
    "JsonlFile",
    "JsonlReader",
    "StdoutLines",
]
