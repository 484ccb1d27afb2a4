"""The errors a user sees, each a one-line message and an exit code (the CLI prints
`synthgen: error: <message>`). Exit codes: 0 done; 1 the run failed (the endpoint refused us,
requests still failing after every retry, a full disk, a damaged file); 2 bad usage or config;
3 a budget was reached; 130 interrupted."""

from __future__ import annotations

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_BUDGET, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


class SynthgenError(Exception):
    """A one-line message for the user and the exit code that goes with it."""

    code = EXIT_USAGE


# The run directory or options cannot be used as given (exit 2).
RunError = SynthgenError


class ConfigError(SynthgenError, ValueError):
    """A config file or value is wrong; the message names the key."""


class PromptError(SynthgenError, ValueError):
    """A prompt template is missing or has a placeholder its group does not sample."""


class EndpointError(SynthgenError, ValueError):
    """The endpoint cannot be used as configured (URL, key)."""


class FatalLLMError(SynthgenError):
    """The endpoint refuses every request (auth, model, permissions, protocol): stop the run."""

    code = EXIT_FAILED


class LocalBackendError(SynthgenError):
    """The bundled local model cannot be started."""

    code = EXIT_FAILED


class StorageError(SynthgenError):
    """A file of the run cannot be written (disk full) or is damaged; nothing committed is lost."""

    code = EXIT_FAILED
