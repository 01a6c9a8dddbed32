#!/usr/bin/env python3
"""A real SMTP server for Parvis tests (aiosmtpd on 127.0.0.1).

Every message received is appended to --out as one JSON line with its decoded subject and
text body, so tests can read what a user would find in their mailbox. --fail-first N answers
"451 temporary failure" to the first N messages, to exercise retries.
"""

import argparse
import asyncio
import email
import email.policy
import json
import signal
import socket
import sys

from aiosmtpd.controller import Controller


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
        with open(self.out, "a", encoding="utf-8") as f:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
        return "250 OK"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--out", required=True)
    parser.add_argument("--fail-first", type=int, default=0)
    args = parser.parse_args()
    port = args.port or free_port()
    controller = Controller(Sink(args.out, args.fail_first), hostname="127.0.0.1", port=port)
    controller.start()
    print(f"LISTENING {port}", flush=True)
    loop = asyncio.new_event_loop()
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    try:
        loop.run_until_complete(stop)
    finally:
        controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
