"""One module per attack an outside review got through, each named after it: the attack
repeated against the real bot, and what must hold instead."""
