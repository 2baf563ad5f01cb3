// Reference peer for the OTLP conformance test: builds the conformance span tree with the official
// OpenTelemetry JS SDK and exports it with its OTLP/HTTP JSON exporter to OTLP_CONFORMANCE_ENDPOINT.
// The tree must match the one src/telemetry/otlp_conformance_emitter_test.cc builds:
//   telethon_qr_login (server, ok) -> telethon_qr_wait (internal, event) -> telethon_connect (client, error)
'use strict';

const api = require('@opentelemetry/api');
const { BasicTracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http');
const { Resource } = require('@opentelemetry/resources');

async function main() {
  const url = process.env.OTLP_CONFORMANCE_ENDPOINT;
  if (!url) {
    console.error('OTLP_CONFORMANCE_ENDPOINT is not set');
    process.exit(2);
  }
  const provider = new BasicTracerProvider({
    resource: new Resource({
      'service.name': 'tgpulse-conformance',
      'deployment.environment': 'conformance',
    }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url }), { scheduledDelayMillis: 100 })],
  });
  const tracer = provider.getTracer('tgpulse', '0.1.0');

  const root = tracer.startSpan('telethon_qr_login', {
    kind: api.SpanKind.SERVER,
    attributes: {
      'telethon.operation': 'qr_login',
      'telethon.tenant_id': 'acme',
      'telethon.session_id': 'sess-1',
      'telethon.floodwait_seconds': 30,
      'telethon.qr.authorized': true,
      'telethon.qr.wait_ratio': 0.25,
    },
  });
  const wait = tracer.startSpan(
    'telethon_qr_wait',
    { kind: api.SpanKind.INTERNAL, attributes: { 'telethon.operation': 'qr_wait' } },
    api.trace.setSpan(api.ROOT_CONTEXT, root));
  wait.addEvent('qr.refreshed', { attempt: 2, 'qr.expires_in': 29.5 });
  const connect = tracer.startSpan(
    'telethon_connect',
    { kind: api.SpanKind.CLIENT, attributes: { 'telethon.operation': 'connect' } },
    api.trace.setSpan(api.ROOT_CONTEXT, wait));
  connect.setStatus({ code: api.SpanStatusCode.ERROR, message: 'FLOOD_WAIT_30' });
  connect.end();
  wait.end();
  root.setStatus({ code: api.SpanStatusCode.OK });
  root.end();

  await provider.forceFlush();
  await provider.shutdown();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
