"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives."""

from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


class Recorder:
    """An SMTP handler that keeps each mail, or answers RCPT as told."""

    def __init__(self) -> None:
        self.raw: list[bytes] = []
        self.answer: str | None = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.answer:
            return self.answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.raw.append(envelope.original_content)
        return "250 Message accepted"

    def messages(self) -> list[EmailMessage]:
        return [message_from_bytes(raw, policy=default) for raw in self.raw]


class SmtpServer:
    """aiosmtpd on a fixed loopback port, to stop and start again."""

    def __init__(self, port: int, login: tuple[str, str] | None = None) -> None:
        self.port = port
        self.recorder = Recorder()
        self.login = login
        self.controller: Controller | None = None

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        wanted = (self.login[0].encode(), self.login[1].encode())
        ok = (auth_data.login, auth_data.password) == wanted
        return AuthResult(success=ok)

    def start(self) -> "SmtpServer":
        extra = {}
        if self.login:
            extra = {"authenticator": self._authenticate, "auth_require_tls": False}
        self.controller = Controller(
            self.recorder, hostname="127.0.0.1", port=self.port, **extra
        )
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None
