"""A Daktela REST API v6 simulator for development, tests and benchmarks.

It follows docs/daktela-api.md: campaign records (create, read,
list with filters, update, delete), the response envelope, auth, error shapes,
plus control hooks to play calls out, push webhooks and inject failures.
"""
from daktela_simulator.core import Simulator
from daktela_simulator.server import SimulatorServer

__all__ = ["Simulator", "SimulatorServer"]
