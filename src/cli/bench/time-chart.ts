/**
 * The "where the time goes" chart: one horizontal bar per phase of a decode step (exclusive
 * time, mean per token, as measured by the party node's profiler), longest first, labelled with
 * milliseconds, share of the step, and bytes and rounds. Plain SVG, no dependencies.
 */
export interface ChartPhase {
  readonly name: string;
  readonly ms: number;
  readonly bytes: number;
  readonly rounds: number;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function timeBreakdownSvg(title: string, phases: readonly ChartPhase[], totalMs: number): string {
  const rows = [...phases].sort((a, b) => b.ms - a.ms);
  const other = Math.max(0, totalMs - rows.reduce((s, p) => s + p.ms, 0));
  if (other > 0.005 * totalMs)
    rows.push({ name: '(outside phases: residual adds, scheduling, reporting)', ms: other, bytes: 0, rounds: 0 });
  const rowH = 26;
  const left = 330;
  const barW = 420;
  const width = left + barW + 300;
  const height = 60 + rows.length * rowH + 20;
  const max = Math.max(1, ...rows.map((r) => r.ms));
  const lines = rows.map((r, i) => {
    const y = 50 + i * rowH;
    const w = Math.max(1, (r.ms / max) * barW);
    const pct = totalMs > 0 ? (100 * r.ms) / totalMs : 0;
    const label = `${r.ms.toFixed(0)} ms (${pct.toFixed(1)} %)${r.bytes ? `, ${(r.bytes / 1e6).toFixed(2)} MB, ${r.rounds.toFixed(0)} rounds` : ''}`;
    return (
      `<text x="${left - 8}" y="${y + 15}" text-anchor="end">${esc(r.name)}</text>` +
      `<rect x="${left}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowH - 8}" fill="#4c78a8"/>` +
      `<text x="${left + w + 6}" y="${y + 15}">${esc(label)}</text>`
    );
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="13">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="12" y="26" font-size="15" font-weight="bold">${esc(title)}</text>`,
    ...lines,
    `</svg>`,
    '',
  ].join('\n');
}
