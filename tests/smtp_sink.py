#!/usr/bin/env python3
"""A real SMTP server for Parvis tests (aiosmtpd on 127.0.0.1).

Every message received is appended to --out as one JSON line with its decoded subject and
text body, so tests can read what a user would find in their mailbox. --fail-first N answers
"451 temporary failure" to the first N messages, to exercise retries.

The listening socket is bound here, once, and kept: --port 0 takes a port the kernel picks
(printed as "LISTENING <port>"), so no other process can take it between choosing and binding.
--reuse-port binds with SO_REUSEPORT, for a test that holds the port reserved itself (bound,
not listening) so that a sink it stops can be started again on the same port.
"""

import argparse
import asyncio
import email
import email.policy
import json
import os
import signal
import socket
import sys

from aiosmtpd.smtp import SMTP


def header(msg, name):
    value = msg.get(name)
    return None if value is None else str(value)


class Sink:
    def __init__(self, out, fail_first):
        self.out = out
        self.fail_left = fail_first

    async def handle_DATA(self, server, session, envelope):
        if self.fail_left > 0:
            self.fail_left -= 1
            return "451 4.3.0 Temporary failure, try again later"
        msg = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        text_part = msg.get_body(preferencelist=("plain",))
        html_part = msg.get_body(preferencelist=("html",))
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "subject": str(msg.get("subject", "")),
            "to": str(msg.get("to", "")),
            "text": text_part.get_content() if text_part is not None else "",
            "html": html_part.get_content() if html_part is not None else None,
            "list_unsubscribe": header(msg, "list-unsubscribe"),
            "list_unsubscribe_post": header(msg, "list-unsubscribe-post"),
            "attachments": [
                {"filename": part.get_filename(), "content_type": part.get_content_type()}
                for part in msg.iter_attachments()
            ],
        }
        # One write(2) of the whole line on an O_APPEND descriptor, before answering 250: a
        # reader sees whole lines (and may see the last one still being written, which it
        # leaves until its newline is there), and the line is there once the sender hears OK.
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        fd = os.open(self.out, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            written = os.write(fd, line)
            while written < len(line):
                written += os.write(fd, line[written:])
        finally:
            os.close(fd)
        return "250 OK"


def listening_socket(port, reuse_port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--reuse-port", action="store_true")
    parser.add_argument("--out", required=True)
    parser.add_argument("--fail-first", type=int, default=0)
    args = parser.parse_args()
    sock = listening_socket(args.port, args.reuse_port)
    port = sock.getsockname()[1]
    handler = Sink(args.out, args.fail_first)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    # A fixed host name: aiosmtpd would otherwise resolve this machine's name for each session.
    server = loop.run_until_complete(
        loop.create_server(
            lambda: SMTP(handler, hostname="parvis-test-sink", enable_SMTPUTF8=True, loop=loop),
            sock=sock,
        )
    )
    print(f"LISTENING {port}", flush=True)
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    try:
        loop.run_until_complete(stop)
    finally:
        server.close()
        loop.run_until_complete(server.wait_closed())
    return 0


if __name__ == "__main__":
    sys.exit(main())
