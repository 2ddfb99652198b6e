"""Real-time fraud rules over canonical CDRs: windowed, idempotent state and at-most-once alerts.

Entry points: `rules.load_rules` (config, validated at cold start) and `engine.FraudEngine` (per batch).
See docs/fraud.md for each rule's rationale, the state model and the measured quality.
"""
