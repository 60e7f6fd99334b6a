"""An SMTP server for the e-mail notifier's tests: aiosmtpd on 127.0.0.1, writing each message
it accepts, raw, to a folder.

Usage: smtp_sink.py PORT OUT_DIR [CERT KEY]
       smtp_sink.py parse FILE   (prints the message's headers and parts as JSON)

With CERT and KEY (PEM) the server offers STARTTLS and refuses mail before it. It prints
"ready" once it listens, and runs until its standard input closes (so it ends with the test
that started it).
"""

import email
import email.policy
import json
import ssl
import sys
from pathlib import Path

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, out: Path) -> None:
        self.out = out
        self.count = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.count += 1
        name = self.out / f"{self.count:04}.eml"
        tmp = name.with_suffix(".tmp")
        tmp.write_bytes(envelope.original_content or envelope.content)
        # Renamed once whole, so a reader never sees half a message.
        tmp.rename(name)
        (self.out / f"{self.count:04}.rcpt").write_text(
            f"{envelope.mail_from}\n" + "\n".join(envelope.rcpt_tos) + "\n"
        )
        return "250 Message accepted for delivery"


def parse(path: str) -> None:
    msg = email.message_from_bytes(Path(path).read_bytes(), policy=email.policy.default)
    parts = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        parts.append({"type": part.get_content_type(), "content": part.get_content()})
    print(json.dumps({
        "from": str(msg["From"]),
        "to": str(msg["To"]),
        "subject": str(msg["Subject"]),
        "type": msg.get_content_type(),
        "defects": [str(d) for d in msg.defects],
        "parts": parts,
    }))


def main() -> None:
    if sys.argv[1] == "parse":
        parse(sys.argv[2])
        return
    port = int(sys.argv[1])
    out = Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    kwargs = {}
    if len(sys.argv) >= 5:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(sys.argv[3], sys.argv[4])
        kwargs = {"tls_context": context, "require_starttls": True}
    controller = Controller(Sink(out), hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    print("ready", flush=True)
    try:
        sys.stdin.read()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
