"""Getting a one-time code or a notice to a person: email, SMS, voice."""

from adapters.delivery.base import (
    CodeSender,
    DeliveryFailed,
    DeliveryUnavailable,
    Medium,
    Message,
    Receipt,
)
from adapters.delivery.retry import RetryPolicy, TryAgain

__all__ = [
    "CodeSender",
    "DeliveryFailed",
    "DeliveryUnavailable",
    "Medium",
    "Message",
    "Receipt",
    "RetryPolicy",
    "TryAgain",
]
