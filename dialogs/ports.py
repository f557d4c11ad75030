"""Everything the dialog talks to, handed over as one value.

The composition root fills it once; the dialog and each of its parts read the same ports from
it, so adding a port changes this class and its one constructor call, not a parameter list
in every part.
"""

from dataclasses import dataclass, field

from adapters.audit import Audit
from adapters.delivery import CodeSender
from adapters.directory import Directory
from adapters.pwned import BreachCheck
from dialogs.background import Background
from dialogs.reach import ChatReach
from dialogs.registry import MethodRegistry
from dialogs.tickets import TicketDesk
from state import Clock, Store


@dataclass(frozen=True)
class DialogPorts:
    """`directory` is what verification reads: the directory with what people registered in
    chat merged in (`dialogs.registered_directory`); `registry` is where that is kept.
    `code_key` keys the hashes of codes kept in sessions; `reach` tells people in their
    other chats after a reset; `background` runs what must not delay a reply (deliveries
    for blind challenges, notices), and shutdown waits for it there; `tickets` moves the
    helpdesk's ticket about an account on when a conversation ends; `breaches` says whether
    a new password is known from breaches (Have I Been Pwned, or nothing when that is off)."""

    directory: Directory
    sender: CodeSender
    store: Store
    audit: Audit
    clock: Clock
    code_key: bytes = field(repr=False)
    reach: ChatReach
    background: Background
    registry: MethodRegistry
    tickets: TicketDesk
    breaches: BreachCheck
