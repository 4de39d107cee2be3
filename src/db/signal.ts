// A wake-up call for worker loops: work arrived, stop sleeping. Every loop sleeping at the time is
// woken; a signal sent while no loop sleeps is remembered, so a wake-up is never lost between
// "checked for work" and "went to sleep".
export class Signal {
  private pending = false;
  private waiters = new Set<() => void>();

  notify(): void {
    if (this.waiters.size === 0) {
      this.pending = true;
      return;
    }
    const woken = [...this.waiters];
    this.waiters.clear();
    for (const w of woken) w();
  }

  /** Sleeps until notified or until `ms` pass; returns at once if notified since the last wait. */
  wait(ms: number): Promise<void> {
    if (this.pending) {
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
