"""What the three shop services share: OpenTelemetry set-up and connections to PostgreSQL and redis.

Each gunicorn worker imports its app module after it forked (no preload), so every worker builds its own
TracerProvider and exporter thread here; nothing with a thread is created in the master.
"""

import os
import threading

import psycopg
import redis
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.instrumentation.requests import RequestsInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

_local = threading.local()


def instrument(app, service):
    """Traces `app` as `service`, exporting OTLP/gRPC to spanguard (LAB_OTLP)."""
    provider = TracerProvider(
        resource=Resource.create(
            {"service.name": service, "service.instance.id": f"{service}-{os.getpid()}", "deployment.environment": "lab"}
        )
    )
    exporter = OTLPSpanExporter(endpoint=os.environ.get("LAB_OTLP", "http://127.0.0.1:24317"), insecure=True)
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=500, max_queue_size=8192))
    trace.set_tracer_provider(provider)
    FlaskInstrumentor().instrument_app(app, excluded_urls="healthz")
    PsycopgInstrumentor().instrument()
    RedisInstrumentor().instrument()
    RequestsInstrumentor().instrument()


def db():
    """This worker's PostgreSQL connection (autocommit), reopened when it broke."""
    conn = getattr(_local, "db", None)
    if conn is None or conn.closed or conn.broken:
        conn = psycopg.connect(os.environ["LAB_PG_DSN"], autocommit=True, connect_timeout=5)
        _local.db = conn
    return conn


def cache():
    """This worker's redis client."""
    r = getattr(_local, "redis", None)
    if r is None:
        r = redis.Redis(
            host="127.0.0.1", port=int(os.environ.get("LAB_REDIS_PORT", "16379")), socket_timeout=5, decode_responses=True
        )
        _local.redis = r
    return r
