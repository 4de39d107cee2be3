// Proposed server changes that bench/serve-for-bench.ts can apply in memory (see ServeOptions.experiment).

export interface Experiment {
  deferPump?: boolean;
  maxConcurrent?: number;
}

export function describeExperiment(e: Experiment | undefined): string {
  if (!e) return '';
  const parts: string[] = [];
  if (e.deferPump) parts.push('batch start deferred to setImmediate');
  if (e.maxConcurrent) parts.push(`${e.maxConcurrent} batch${e.maxConcurrent > 1 ? 'es' : ''} in flight`);
  return parts.join(', ');
}
