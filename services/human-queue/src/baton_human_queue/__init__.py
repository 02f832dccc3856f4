"""Baton's human queue: tickets for people, claims, replies, answers, approvals, handback."""
