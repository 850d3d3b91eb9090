/**
 * Where the time goes: wall time, bytes sent and rounds per named phase of a computation (e.g.
 * "layernorm", "attention.softmax", "lm-head"), for benchmarks and the time-breakdown chart.
 * Phases nest; each phase's figures are exclusive (its children's are subtracted), so the
 * phases of a run add up to its total. Phases must not overlap except by nesting (one profiler
 * per sequential computation, e.g. per party context).
 */

export interface PhaseCounters {
  bytes: number;
  rounds: number;
}

export interface PhaseTotals {
  ms: number;
  bytes: number;
  rounds: number;
  calls: number;
}

interface Frame {
  readonly name: string;
  readonly t0: number;
  readonly c0: PhaseCounters;
  childMs: number;
  childBytes: number;
  childRounds: number;
}

export class PhaseProfiler {
  readonly #sample: () => PhaseCounters;
  readonly #totals = new Map<string, PhaseTotals>();
  readonly #stack: Frame[] = [];

  /** `sample` reads the running communication counters (e.g. a channel's stats). */
  constructor(sample: () => PhaseCounters) {
    this.#sample = sample;
  }

  async run<T>(name: string, body: () => Promise<T>): Promise<T> {
    const c = this.#sample();
    const frame: Frame = {
      name,
      t0: performance.now(),
      c0: { bytes: c.bytes, rounds: c.rounds },
      childMs: 0,
      childBytes: 0,
      childRounds: 0,
    };
    this.#stack.push(frame);
    try {
      return await body();
    } finally {
      this.#stack.pop();
      const end = this.#sample();
      const ms = performance.now() - frame.t0;
      const bytes = end.bytes - frame.c0.bytes;
      const rounds = end.rounds - frame.c0.rounds;
      const t = this.#totals.get(name) ?? { ms: 0, bytes: 0, rounds: 0, calls: 0 };
      t.ms += ms - frame.childMs;
      t.bytes += bytes - frame.childBytes;
      t.rounds += rounds - frame.childRounds;
      t.calls += 1;
      this.#totals.set(name, t);
      const parent = this.#stack[this.#stack.length - 1];
      if (parent) {
        parent.childMs += ms;
        parent.childBytes += bytes;
        parent.childRounds += rounds;
      }
    }
  }

  /** Exclusive totals per phase since the last reset. */
  snapshot(): Record<string, PhaseTotals> {
    return Object.fromEntries([...this.#totals].map(([k, v]) => [k, { ...v }]));
  }

  reset(): void {
    this.#totals.clear();
  }
}
