/**
 * Structured JSON logs, one object per line on stderr. Callers pass fields explicitly; by
 * convention (and review) no share, key, seed, prompt or token text is ever passed here — only
 * ids, sizes, counts, states and error messages (which never contain values).
 */
export type Level = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  log(level: Level, msg: string, fields?: Record<string, string | number | boolean | undefined>): void;
  child(fields: Record<string, string | number>): Logger;
}

export function jsonLogger(
  base: Record<string, string | number> = {},
  write: (line: string) => void = (l) => process.stderr.write(l + '\n'),
): Logger {
  return {
    log(level, msg, fields = {}) {
      write(JSON.stringify({ time: new Date().toISOString(), level, msg, ...base, ...fields }));
    },
    child(fields) {
      return jsonLogger({ ...base, ...fields }, write);
    },
  };
}

export const silentLogger: Logger = { log() {}, child: () => silentLogger };
