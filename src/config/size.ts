/** Byte sizes and rates as users write them: 1048576, 16MiB, 16m (git-style), 2.5GiB, 10MB (decimal). */
const units: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
};

export function parseSize(input: string, what = 'size'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*(?:\/s)?\s*$/i.exec(input);
  const unit = m ? units[m[2].toLowerCase()] : undefined;
  if (!m || unit === undefined) {
    throw new Error(`invalid ${what} ${JSON.stringify(input)}: use bytes or a suffix like 16MiB, 16m, 512KiB, 1GiB`);
  }
  const n = Math.round(Number(m[1]) * unit);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`invalid ${what} ${JSON.stringify(input)}: out of range`);
  return n;
}

export function formatBytes(n: number): string {
  const steps = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < steps.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(v < 10 ? 2 : 1)} ${steps[i]}`;
}
