"""A sandbox's and an exec's streams, as the hosted platform's users read and write them.

``StreamReader`` reads whole (``read()``) or line by line as output arrives (``for line in
reader``, ``async for``); ``StreamWriter`` buffers ``write()`` until ``drain()`` and ends the
input with ``write_eof()``.  Both sit on plain pipes to the engine's client process.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import IO, Generic, Protocol, TypeVar

from toolkit.aio import aio_method, aiter_in_thread

T = TypeVar("T", str, bytes)
CHUNK = 64 * 1024


class ByteSource(Protocol):
    """What a reader reads from: a pipe, a saved log file, or the engine's followed logs."""

    def readline(self) -> bytes: ...

    def read(self) -> bytes: ...


class DrainedPipe:
    """A pipe emptied by a thread as output arrives, so a command never blocks on a full pipe
    (``p.wait()`` before reading, as users of the hosted platform write it, would otherwise hang
    at 64 KiB of unread output).  Readers block until data or the end."""

    def __init__(self, pipe: IO[bytes]) -> None:
        self._buffer = bytearray()
        self._done = False
        self._ready = threading.Condition()
        threading.Thread(target=self._drain, args=(pipe,), daemon=True, name="toolkit-sandbox-drain").start()

    def _drain(self, pipe: IO[bytes]) -> None:
        with pipe:
            while chunk := pipe.read1(CHUNK) if hasattr(pipe, "read1") else pipe.read(CHUNK):
                with self._ready:
                    self._buffer += chunk
                    self._ready.notify_all()
        with self._ready:
            self._done = True
            self._ready.notify_all()

    def _take(self, end: int) -> bytes:
        data = bytes(self._buffer[:end])
        del self._buffer[:end]
        return data

    def readline(self) -> bytes:
        with self._ready:
            while b"\n" not in self._buffer and not self._done:
                self._ready.wait()
            newline = self._buffer.find(b"\n")
            return self._take(newline + 1 if newline >= 0 else len(self._buffer))

    def read(self) -> bytes:
        with self._ready:
            while not self._done:
                self._ready.wait()
            return self._take(len(self._buffer))


class StreamType(enum.Enum):
    """Where an exec's output goes: ``PIPE`` (read it from the process), ``DEVNULL`` (dropped) or
    ``STDOUT`` (printed to this process's terminal as it arrives)."""

    PIPE = "pipe"
    DEVNULL = "devnull"
    STDOUT = "stdout"


class StreamReader(Generic[T]):
    """Output of a sandbox or an exec.  ``text=True`` (the default) gives ``str``, else ``bytes``."""

    def __init__(self, open_source: Callable[[], ByteSource | None], text: bool = True) -> None:
        self._open_source, self._text = open_source, text
        self._source: ByteSource | None = None
        self._opened = False
        self._lock = threading.Lock()

    def _pipe(self) -> ByteSource | None:
        with self._lock:
            if not self._opened:
                self._source, self._opened = self._open_source(), True
            return self._source

    def _decode(self, data: bytes) -> T:
        return data.decode("utf-8", errors="replace") if self._text else data  # type: ignore[return-value]

    @aio_method
    def read(self) -> T:
        """Everything until the stream ends (the process exits)."""
        pipe = self._pipe()
        return self._decode(pipe.read() if pipe is not None else b"")

    def __iter__(self) -> Iterator[T]:
        pipe = self._pipe()
        if pipe is None:
            return
        for line in iter(pipe.readline, b""):
            yield self._decode(line)

    def __aiter__(self) -> AsyncIterator[T]:
        return aiter_in_thread(lambda: iter(self))


class StreamWriter:
    """An exec's stdin: ``write()`` buffers, ``drain()`` sends, ``write_eof()`` closes it."""

    def __init__(self, pipe: IO[bytes] | None, on_write: Callable[[], None] = lambda: None) -> None:
        self._pipe, self._on_write = pipe, on_write
        self._eof = False

    def _open_pipe(self) -> IO[bytes]:
        if self._pipe is None or self._pipe.closed:
            raise BrokenPipeError("this stdin is closed (write_eof() was called, or the process has no stdin)")
        return self._pipe

    def write(self, data: bytes | bytearray | memoryview | str) -> None:
        if isinstance(data, str):
            data = data.encode()
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"stdin.write() takes bytes or str, got {type(data).__name__}")
        self._open_pipe().write(bytes(data))
        self._on_write()

    def write_eof(self) -> None:
        self._eof = True
        if self._pipe is not None and not self._pipe.closed:
            self._pipe.close()

    @aio_method
    def drain(self) -> None:
        """Send what ``write()`` buffered; after ``write_eof()`` there is nothing left to send (the
        platform's pattern ``write_eof(); drain()`` sends the EOF)."""
        if self._eof:
            return
        self._open_pipe().flush()
