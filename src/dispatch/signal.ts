// A wake-up call for a worker loop: work arrived, stop sleeping. Signals sent while the loop is busy
// are remembered, so a wake-up is never lost between "checked for work" and "went to sleep".
export class Signal {
  private pending = false;
  private waiter: (() => void) | undefined;

  notify(): void {
    this.pending = true;
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  /** Sleeps until notified or until `ms` pass; returns at once if notified since the last wait. */
  wait(ms: number): Promise<void> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        resolve();
      }, Math.max(0, ms));
      this.waiter = () => {
        clearTimeout(timer);
        this.pending = false;
        resolve();
      };
    });
  }
}
