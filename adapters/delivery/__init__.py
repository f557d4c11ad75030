"""Getting a one-time code to a person: email, SMS, voice."""

from adapters.delivery.base import CodeSender, DeliveryFailed, Message

__all__ = ["CodeSender", "DeliveryFailed", "Message"]
