import { metrics, trace } from '@opentelemetry/api';
import { type DataPoint, type Histogram, MeterProvider, MetricReader, type MetricData } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';

/** A metric reader the test collects from when it wants (the SDK's own pull reader). */
class PullReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

/** A real MeterProvider registered globally, and what it collected. */
export interface MetricsHarness {
  collect(): Promise<MetricData[]>;
  /** The data points of one metric (none when the metric has no series). */
  points(name: string): Promise<DataPoint<number | Histogram>[]>;
  stop(): Promise<void>;
}

export function registerMeterProvider(): MetricsHarness {
  const reader = new PullReader();
  const provider = new MeterProvider({ readers: [reader] });
  if (!metrics.setGlobalMeterProvider(provider)) throw new Error('a meter provider is registered already');
  const collect = async () => {
    const { resourceMetrics, errors } = await reader.collect();
    if (errors.length > 0) throw errors[0];
    return resourceMetrics.scopeMetrics.filter((s) => s.scope.name === 'nestjs-tenant-cache').flatMap((s) => s.metrics);
  };
  return {
    collect,
    points: async (name) => ((await collect()).find((m) => m.descriptor.name === name)?.dataPoints ?? []) as DataPoint<number | Histogram>[],
    stop: async () => {
      metrics.disable();
      await provider.shutdown();
    },
  };
}

/** A real TracerProvider registered globally with an in-memory exporter. */
export interface TracesHarness {
  spans(): ReadableSpan[];
  reset(): void;
  stop(): Promise<void>;
}

export function registerTracerProvider(): TracesHarness {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  if (!trace.setGlobalTracerProvider(provider)) throw new Error('a tracer provider is registered already');
  return {
    spans: () => exporter.getFinishedSpans(),
    reset: () => exporter.reset(),
    stop: async () => {
      trace.disable();
      await provider.shutdown();
    },
  };
}

/** `attributes` of a point as a plain object, to compare. */
export function series(points: readonly DataPoint<unknown>[]): { attributes: Record<string, unknown>; value: unknown }[] {
  return points.map((p) => ({ attributes: { ...p.attributes }, value: p.value }));
}
