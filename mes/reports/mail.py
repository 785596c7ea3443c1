"""Mailing a stored report: one message per report to the recipients of its roles, the file
attached, over the plant's SMTP server (``reports.smtp``, else ``alarms.dispatch.smtp``)."""

from __future__ import annotations

from email.message import EmailMessage

from collectors.config.alarms import Smtp
from collectors.config.models import Plant
from mes.alarms.dispatch import send_mail

MAIL_TIMEOUT_S = 20.0


def smtp_of(plant: Plant) -> Smtp:
    return plant.reports.smtp or plant.alarms.dispatch.smtp


def recipients(plant: Plant, roles: list[str]) -> list[str]:
    """The addresses of ``roles`` (``reports.recipients``), each once, in config order."""
    out: list[str] = []
    for role in roles:
        for address in plant.reports.recipients.get(role, []):
            if address not in out:
                out.append(address)
    return out


def send_report(smtp: Smtp, to: list[str], subject: str, body: str, file_name: str, content: bytes,
                media: str) -> None:
    """Send one message with the report attached; raises ``OSError``/``smtplib.SMTPException`` on failure."""
    message = EmailMessage()
    message["From"] = smtp.sender
    message["To"] = ", ".join(to)
    message["Subject"] = subject
    message.set_content(body)
    maintype, _, subtype = media.partition("/")
    message.add_attachment(content, maintype=maintype, subtype=subtype, filename=file_name)
    send_mail(smtp, message, MAIL_TIMEOUT_S)
