"""Where the test servers listen: loopback only, on ports nothing else holds.

Most servers take any free port on 127.0.0.1 (`free_port`). A server whose ports are fixed
(Samba's LDAP service) takes a loopback address of its own instead (`free_loopback_address`):
Linux routes all of 127.0.0.0/8 to the loopback interface, so two test runs on one machine
each get their own address and never compete for the ports.
"""

import errno
import random
import socket
from collections.abc import Iterable

HOST = "127.0.0.1"

# How many random addresses to try before deciding the machine holds the ports everywhere
# (a server bound to 0.0.0.0 on one of them takes it on every loopback address).
ADDRESS_ATTEMPTS = 20


def free_port(host: str = HOST) -> int:
    """A TCP port on `host` that nothing listens on (at the moment of asking)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def free_loopback_address(ports: Iterable[int]) -> str:
    """A random 127.x.y.z address (never 127.0.0.x, where the machine's own services
    live) on which every one of `ports` can be bound at the moment of asking."""
    wanted = tuple(ports)
    pick = random.SystemRandom()
    for _ in range(ADDRESS_ATTEMPTS):
        address = f"127.{pick.randint(1, 254)}.{pick.randint(0, 255)}.{pick.randint(1, 254)}"
        if all(_bindable(address, port) for port in wanted):
            return address
    taken = ", ".join(map(str, wanted))
    raise OSError(f"no loopback address has the ports {taken} free (a server on 0.0.0.0?)")


def _bindable(address: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((address, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return False
            raise  # EACCES: ports below 1024 need root, on every address alike
        return True
