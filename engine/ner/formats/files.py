"""Reading and writing corpus files safely: UTF-8 with line-numbered errors, atomic writes."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from engine.core.errors import LanternError


class CorpusError(LanternError):
    """A corpus file that cannot be imported or written, with the file and line at fault."""


def read_text(path: str | Path) -> str:
    """The whole file as text: UTF-8 (a BOM is allowed), not empty; otherwise a CorpusError."""
    path = Path(path)
    if not path.is_file():
        raise CorpusError(
            "the file does not exist" if not path.exists() else "this is a folder, not a file",
            str(path),
            "check the path",
        )
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CorpusError(
            f"the file is not UTF-8 text (byte 0x{data[exc.start]:02x} cannot be decoded)",
            f"{path}:{line}",
            "convert it to UTF-8 first, e.g. iconv -f latin1 -t utf-8 in.txt > out.txt",
        ) from exc
    if not text.strip():
        raise CorpusError("the file is empty", str(path), "choose the file that holds the corpus")
    return text


def text_lines(text: str) -> list[str]:
    """Lines without their line ends. Only \\n (and \\r\\n) end a line: tweets can hold U+2028 and the like,
    which str.splitlines() would also split on."""
    return [line.removesuffix("\r") for line in text.split("\n")]


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write a file so that it is either the old one or the complete new one, never half."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(data)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise CorpusError(
            f"the file cannot be written ({exc.strerror})", str(path), "choose a writable folder"
        ) from exc


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write UTF-8 text atomically (see write_bytes_atomic), with \n line ends on every platform."""
    write_bytes_atomic(path, text.encode("utf-8"))
