/**
 * Throughput measured in CPU time of this (single-threaded) process, so "per core" figures stay
 * honest on a machine where other work runs at the same time.
 */

/** CPU seconds (user + system) of this process so far. */
export function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/**
 * Runs `pass` over and over for `seconds` of CPU time; the median MB/s of one-second windows.
 *
 * @example
 * medianRate(bytes, 3, () => { for (const v of values) detectors.scan(v); }); // e.g. 68.2
 */
export function medianRate(bytesPerPass: number, seconds: number, pass: () => void): number {
  pass(); // warm up the JIT and the caches
  const rates: number[] = [];
  const windows = Math.max(1, Math.round(seconds));
  for (let w = 0; w < windows; w++) {
    let passes = 0;
    const start = cpuSeconds();
    while (cpuSeconds() - start < seconds / windows) {
      pass();
      passes++;
    }
    rates.push((bytesPerPass * passes) / (cpuSeconds() - start) / 1e6);
  }
  return rates.sort((a, b) => a - b)[Math.floor(rates.length / 2)] as number;
}
