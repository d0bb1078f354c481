"""Notifications: an in-app inbox and e-mail about the events that concern a staff member."""
