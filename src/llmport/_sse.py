"""A linear server-sent-events decoder: raw bytes in, each event's `data` out.

The decoder touches each byte a bounded number of times however the stream is cut:
a line still unfinished at the end of a read is kept as a list of the pieces it came
in, joined once when its end arrives, and a read is split into lines by one pass.
So one 32 MiB event costs what 32 one-MiB events cost, and a read that holds
thousands of events costs what the same events in separate reads cost.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator

__all__ = ["SSEDecoder"]

_BOM = b"\xef\xbb\xbf"


class SSEDecoder:
    """Split a server-sent-events byte stream into `data:` payloads.

    Lines may end in LF, CRLF or a lone CR (also when a CRLF is cut between two
    reads), and a UTF-8 byte-order mark at the start of the stream is skipped, as the
    SSE spec says. Comment lines (`: keep-alive`), `event:`/`id:`/`retry:` fields and
    blank keep-alives carry nothing here; multi-line data is joined with newlines.
    An event is dispatched only when its closing blank line arrives: one cut
    mid-frame never is (see `pending`). Nothing after `[DONE]` is decoded, even when
    it arrives in the same read.
    """

    def __init__(self) -> None:
        self._line: list[bytes] = []  # the unfinished last line, in the pieces it came in
        self._data: list[str] = []  # the data lines of the event being read
        self._head = b""  # the first bytes, until we know whether they are a BOM
        self._started = False
        self._after_cr = False  # the last read ended in CR: a leading LF completes a CRLF
        #: True once the `[DONE]` sentinel has been decoded.
        self.done = False

    def feed(self, chunk: bytes) -> Iterator[str]:
        """Feed raw bytes; iterate over the data of each event they complete, in order.

        The bytes are split into lines at once; the events are assembled as they are
        iterated, so the first event of a read holding thousands comes out first.
        Consume each result before the next `feed`.
        """
        if self.done:  # `[DONE]` ends the stream: whatever a server sends after it is not data
            return iter(())
        if not self._started:
            chunk = self._skip_bom(chunk)
        if self._after_cr and chunk:
            self._after_cr = False
            if chunk[0] == 10:  # LF
                chunk = chunk[1:]
        if 13 in chunk:  # CR (an int test is a plain memchr; `b"\r" in` costs 10x more)
            self._after_cr = chunk[-1:] == b"\r"
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        end = chunk.rfind(b"\n")
        if (  # the usual read: exactly one event of one `data: ` line
            end == len(chunk) - 1
            and chunk.find(b"\n") == end - 1
            and chunk.startswith(b"data: ")
            and not self._line
            and not self._data
        ):
            text = chunk[6 : end - 1].decode("utf-8", "replace")
            if len(text) < 16 and text.strip() == "[DONE]":
                self.done = True
            return iter((text,))
        if end < 0:
            if chunk:
                self._line.append(chunk)
            return iter(())
        start = 0
        if self._line:  # the first line ends a line that began in an earlier read
            start = chunk.find(b"\n") + 1
            self._line.append(chunk[: start - 1])
            self._long_line(self._line)
            self._line = []
        if end + 1 < len(chunk):
            self._line.append(chunk[end + 1 :])
        # Complete lines are decoded in one go: LF never occurs inside a UTF-8 sequence.
        if start == 0 and end + 1 == len(chunk):  # whole lines, the usual read
            lines = chunk.decode("utf-8", "replace").split("\n")
            lines.pop()  # after the last LF
        elif start <= end:
            lines = str(memoryview(chunk)[start:end], "utf-8", "replace").split("\n")
        else:
            return iter(())
        return self._events(lines)

    def _events(self, lines: list[str]) -> Iterator[str]:
        data = self._data
        for line in lines:
            if not line:
                if data:
                    text = data[0] if len(data) == 1 else "\n".join(data)
                    if len(text) < 16 and text.strip() == "[DONE]":
                        self.done = True
                    data = self._data = []
                    yield text
                    if self.done:
                        return
            elif line.startswith("data:"):
                data.append(line[6:] if line[5:6] == " " else line[5:])
            elif line == "data":  # a field with no colon has an empty value
                data.append("")
            # comments (":") and other fields (event:, id:, retry:) carry nothing we need

    def _long_line(self, pieces: list[bytes]) -> None:
        """Take a line that came in several pieces, decoding them one by one.

        Joining the pieces and then decoding would build the line twice more at its full
        size (bytes, then text); a 32 MiB delta pays for each such copy in page faults.
        """
        head = b""
        for piece in pieces:  # the first bytes name the field
            head += piece[:6]
            if len(head) >= 6:
                break
        if head[:5] == b"data:":
            skip = 6 if head[5:6] == b" " else 5
        elif head == b"data":
            skip = 4
        else:
            return  # a comment or another field
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        parts: list[str] = []
        for piece in pieces:
            if skip:
                if len(piece) <= skip:
                    skip -= len(piece)
                    continue
                piece, skip = piece[skip:], 0
            parts.append(decoder.decode(piece))
        parts.append(decoder.decode(b"", True))
        self._data.append("".join(parts))

    def _skip_bom(self, chunk: bytes) -> bytes:
        head = self._head + chunk
        if len(head) < len(_BOM) and _BOM.startswith(head):
            self._head = head  # too short to tell yet
            return b""
        self._started = True
        self._head = b""
        return head[len(_BOM) :] if head.startswith(_BOM) else head

    @property
    def pending(self) -> bool:
        """True while part of an event has been read but not finished (a cut mid-frame).

        Such an event is never dispatched, as the SSE spec says: the stream then ends
        without a finish reason, which the caller reports as a cut connection.
        """
        return bool(self._data or self._head or any(piece.strip() for piece in self._line))
