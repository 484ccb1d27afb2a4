"""A scripted OpenAI-compatible server for tests, benchmarks and trying synthgen without a key.

It answers synthgen's prompts with deterministic word salad in the requested shape and language,
with optional deterministic faults and quotas (FakeServerOptions lists every knob).
"""

from synthgen.testing.options import FakeServerOptions, ServerCommand, options_from_cli_args
from synthgen.testing.server import FakeLLMServer
from synthgen.testing.state import request_key

__all__ = ["FakeLLMServer", "FakeServerOptions", "ServerCommand", "options_from_cli_args", "request_key"]
