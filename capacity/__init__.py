"""Capacity model and planner: quotas and prices, measurements, service-time fit, analytic model,
simulator, planner and validation for a Kinesis -> Lambda consumer."""
