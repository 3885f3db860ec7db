"""Mail: German messages from templates, a durable outbox, and aiosmtplib."""
