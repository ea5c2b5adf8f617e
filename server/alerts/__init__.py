"""Alerts and escalations: the stored alert (a synced inbox entry), the rules that raise it, and its delivery.

- `service`: raising an alert exactly once per cause (its dedupe key) and queueing its delivery.
- `checks`: the rules: reactivation for red scores, escalation for neglected green customers and late A leads.
- `channels`: WeCom and DingTalk group-robot messages, and DingTalk request signing.
- `delivery`: the queue worker: digests, the per-robot rate limit, retries with backoff, the attempt log.
- `push`: the mobile push-provider interface.
"""
