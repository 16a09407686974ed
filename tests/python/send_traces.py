"""Sends traces to spanguard with the OpenTelemetry Python SDK over OTLP/gRPC (a second, independent client).

usage: send_traces.py ENDPOINT TRACES   -- prints the number of spans ended.
"""
import sys

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

endpoint, traces = sys.argv[1], int(sys.argv[2])
provider = TracerProvider(resource=Resource.create({"service.name": "python-shop"}))
provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint, insecure=True)))
tracer = provider.get_tracer("spanguard-tests")
spans = 0
for i in range(traces):
    with tracer.start_as_current_span("checkout", attributes={"order": i}):
        with tracer.start_as_current_span("charge-card"):
            pass
        with tracer.start_as_current_span("send-email"):
            pass
    spans += 3
ok = provider.force_flush(30_000)
provider.shutdown()
if not ok:
    sys.exit("flush failed")
print(spans)
