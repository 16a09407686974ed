"""A third-party TLS client for spanguard's receiver (OpenSSL via grpcio and Python's ssl module).

usage: tls_client.py grpc ENDPOINT CA [CERT KEY]   -- OpenTelemetry SDK, OTLP/gRPC over TLS; prints spans ended
       tls_client.py http URL CA [CERT KEY]        -- one OTLP/JSON POST over HTTPS; prints the HTTP status,
                                                      or "handshake-refused" when the TLS connection is refused
"""
import json
import ssl
import sys
import urllib.error
import urllib.request

mode, target, ca = sys.argv[1], sys.argv[2], sys.argv[3]
cert, key = (sys.argv[4], sys.argv[5]) if len(sys.argv) > 5 else (None, None)

if mode == "grpc":
    import grpc
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    read = lambda p: open(p, "rb").read() if p else None
    creds = grpc.ssl_channel_credentials(
        root_certificates=read(ca), private_key=read(key), certificate_chain=read(cert)
    )
    provider = TracerProvider(resource=Resource.create({"service.name": "python-tls"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=target, credentials=creds)))
    tracer = provider.get_tracer("spanguard-tests")
    for i in range(5):
        with tracer.start_as_current_span("login", attributes={"attempt": i}):
            with tracer.start_as_current_span("check-password"):
                pass
    ok = provider.force_flush(30_000)
    provider.shutdown()
    if not ok:
        sys.exit("flush failed")
    print(10)
elif mode == "http":
    ctx = ssl.create_default_context(cafile=ca)
    if cert:
        ctx.load_cert_chain(cert, key)
    body = {
        "resourceSpans": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "python-https"}}]},
            "scopeSpans": [{"spans": [{
                "traceId": "5b8efff798038103d269b633813fc60c",
                "spanId": "eee19b7ec3c1b174",
                "name": "GET /cart",
                "kind": 2,
                "startTimeUnixNano": "1700000000000000000",
                "endTimeUnixNano": "1700000000100000000",
            }]}],
        }]
    }
    req = urllib.request.Request(
        target, data=json.dumps(body).encode(), headers={"content-type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
            print(resp.status)
    except urllib.error.HTTPError as e:
        print(e.code)
    except (urllib.error.URLError, ssl.SSLError, ConnectionError) as e:
        print("handshake-refused", file=sys.stdout)
        print(repr(e), file=sys.stderr)
else:
    sys.exit(f"unknown mode {mode}")
