"""Finding Ray and a cluster: a missing package or an unreachable address is
one line that says what to do, before any work starts."""

from __future__ import annotations

import os
import socket
from typing import Any

from atlas.errors import AtlasError

INSTALL = ("--executor ray needs Ray, which is not installed here: pip install 'atlas[ray]' "
           "(make install installs it)")
PROBE_SECONDS = 5.0


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise AtlasError(INSTALL) from None
    return ray


def _host_port(address: str) -> tuple[str, int] | None:
    """(host, port) of a plain `host:port` address; None for the forms Ray
    resolves itself (`auto`, `ray://…`, `local`)."""
    if "://" in address or ":" not in address:
        return None
    host, _, port = address.rpartition(":")
    if not port.isdigit():
        raise AtlasError(f"Ray address {address!r} is not host:port (e.g. 10.0.0.5:6379)")
    return host.strip("[]"), int(port)


def _reachable(address: str) -> None:
    """Fails fast where Ray itself would retry for a minute."""
    target = _host_port(address)
    if target is None:
        return
    try:
        with socket.create_connection(target, timeout=PROBE_SECONDS):
            pass
    except OSError as error:
        raise AtlasError(
            f"cannot reach the Ray cluster at {address} ({error.strerror or error}); start one "
            "with `ray start --head` and pass the address it prints, or leave out --ray-address "
            "for a local Ray instance") from None


def connect(address: str | None) -> tuple[Any, bool]:
    """(the ray module, whether this call started the connection and so must
    end it). A process that is already connected (a notebook, a test) keeps its
    connection; without an address, a local Ray instance on this machine."""
    ray = import_ray()
    if ray.is_initialized():
        return ray, False
    options = {"log_to_driver": False, "configure_logging": False, "namespace": "atlas"}
    if address:
        _reachable(address)
        try:
            ray.init(address=address, **options)
        except (ConnectionError, RuntimeError, ValueError) as error:
            # Ray never sends a token to an address it was given unless told to.
            hint = ("; if the cluster uses token authentication, set RAY_AUTH_MODE=token "
                    "(the token from `ray get-auth-token`)"
                    if "RAY_AUTH_MODE" not in os.environ else "")
            raise AtlasError(f"cannot connect to the Ray cluster at {address}: "
                             f"{str(error).splitlines()[0]}{hint}") from None
    else:
        ray.init(include_dashboard=False, **options)
    return ray, True
