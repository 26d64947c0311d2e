"""Built-in hooks for logs, metrics and traces.

    LoggingHooks                        one structured log line per call (stdlib logging)
    llmport.observability.prometheus    PrometheusHooks (pip install 'llmport[prometheus]')
    llmport.observability.otel          OpenTelemetryHooks (pip install 'llmport[otel]')

Register any of them for every provider with `llmport.add_hooks(...)`, or for one
instance with `hooks=[...]`. The optional ones are separate modules so that importing
this package never needs prometheus-client or OpenTelemetry.
"""

from llmport.observability.logs import LoggingHooks, call_fields

__all__ = ["LoggingHooks", "call_fields"]
