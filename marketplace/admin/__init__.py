"""The operator's console: organisations and users, API clients, the audit log, the job queues
and the consent notice, on top of every domain it gathers (like `marketplace.reporting`)."""
