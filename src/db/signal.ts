// A wake-up call for worker loops: work arrived, stop sleeping. Every loop sleeping at the time is
// woken; a signal sent while no loop sleeps is remembered, so a wake-up is never lost between
// "checked for work" and "went to sleep". With several loops on one signal, one asleep and another
// busy, "remembered" must be per loop: the busy one passes the generation it saw before its round, and
// a wake-up sent since then is not lost to it because another loop was asleep to take it.
export class Signal {
  private pending = false;
  private waiters = new Set<() => void>();
  /** Counts wake-ups: a loop notes it before a round and waits with it (wait's `since`). */
  generation = 0;

  notify(): void {
    this.generation++;
    if (this.waiters.size === 0) {
      this.pending = true;
      return;
    }
    const woken = [...this.waiters];
    this.waiters.clear();
    for (const w of woken) w();
  }

  /**
   * Sleeps until notified or until `ms` pass; returns at once if notified since the last wait, or,
   * given `since`, if notified since the generation it names.
   */
  wait(ms: number, since?: number): Promise<void> {
    if (since !== undefined ? since !== this.generation : this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(wake);
        resolve();
      }, Math.max(0, ms));
      this.waiters.add(wake);
    });
  }
}
