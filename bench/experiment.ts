// Proposed server changes that bench/serve-for-bench.ts can apply in memory (see ServeOptions.experiment).

export interface Experiment {
  deferPump?: boolean;
  maxConcurrent?: number;
  /** Statements run once on the store after start (on PGlite: its only session, so they apply to all). */
  sessionSql?: string[];
}

export function describeExperiment(e: Experiment | undefined): string {
  if (!e) return '';
  const parts: string[] = [];
  if (e.deferPump) parts.push('batch start deferred to setImmediate');
  if (e.maxConcurrent) parts.push(`${e.maxConcurrent} batch${e.maxConcurrent > 1 ? 'es' : ''} in flight`);
  if (e.sessionSql?.length) parts.push(e.sessionSql.join('; '));
  return parts.join(', ');
}
