"""Store, its connection: Chroma clients (embedded or `chroma run` server) and glibc's allocator."""

from __future__ import annotations

import ctypes
import functools
import os
import sys
from urllib.parse import urlparse

from assistant.errors import StoreUnavailable, UserError

_M_MMAP_THRESHOLD = -3  # mallopt's parameter number in glibc's malloc.h
_MMAP_THRESHOLD = 128 * 1024  # glibc's own starting value, held fixed (see _allocator)


def _connection_errors() -> tuple[type[BaseException], ...]:
    """What a lost server raises: httpx's transport errors (chromadb's HTTP client uses httpx)."""
    import httpx

    return (httpx.TransportError, ConnectionError, TimeoutError)


def _spelled(path: str, spelling: int) -> str:
    """The embedded store's path spelled the `spelling`-th way (path, path/., path/./., ...): Chroma
    keeps one in-memory copy of a store per path string and process, so a new spelling is a fresh copy."""
    return path + "/." * spelling


def _client(settings, spelling: int = 0):
    """A Chroma client. `spelling` > 0 opens the embedded store under another spelling of its path,
    so that it is a fresh copy that sees what another process has written since (see Store.reopen)."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise UserError(f"ASSISTANT_CHROMA_URL must look like http://HOST:PORT, got {settings.chroma_url!r}")
        try:
            return chromadb.HttpClient(host=url.hostname, port=url.port or (443 if url.scheme == "https" else 8000),
                                       ssl=url.scheme == "https", settings=chroma_settings)
        except (ValueError, *_connection_errors()) as exc:
            # chromadb documents a ValueError ("Could not connect to a Chroma server") from its heartbeat.
            raise StoreUnavailable(f"Chroma server at {settings.chroma_url} is unreachable "
                                   f"({exc.__class__.__name__}); is `chroma run` up?") from exc
    settings.chroma_path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=_spelled(str(settings.chroma_path), spelling), settings=chroma_settings)


def live_copies() -> set[str]:
    """The paths (as spelled) of the embedded stores this process holds open: chromadb keeps one
    System per path until its last client closes."""
    from chromadb.api.shared_system_client import SharedSystemClient

    return set(getattr(SharedSystemClient, "_identifier_to_system", {}))


@functools.cache
def _allocator():
    """glibc's allocator, set up for a process that reopens its store; None elsewhere (macOS, musl).

    Each copy of the embedded store loads its HNSW indexes and SQLite pages on Chroma's Rust
    threads, which glibc serves from per-thread arenas; and once a large block is freed, glibc
    raises its mmap threshold (up to 32 MiB), so the next copy's multi-MB buffers land in those
    arenas too. Freed, they stay with the process: +16 MB RSS per reopen, 187 -> 587 MB after 25
    (bench/soak.py saw 431 -> 890 MB in 30 min). A fixed threshold keeps large buffers in their own
    mappings, returned on free, and malloc_trim (see Store._release) returns the arenas' free pages:
    25 reopens stay within 168-180 MB. MALLOC_MMAP_THRESHOLD_ in the environment wins."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim.argtypes, libc.mallopt.argtypes = [ctypes.c_size_t], [ctypes.c_int, ctypes.c_int]
    except (OSError, AttributeError):  # not glibc
        return None
    if "MALLOC_MMAP_THRESHOLD_" not in os.environ:
        libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
    return libc


def _close(client) -> None:
    try:
        client.close()
    except Exception:  # a client already closed, or a store gone: nothing left to free
        pass
