/**
 * Rule time windows: days of the week and a time of day in an IANA time zone. Local time comes from
 * Intl (no tz database of our own); one formatter per window, and the last minute's answer is kept,
 * so a busy gateway formats about once a minute per window.
 */

export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export interface WindowSpec {
  readonly days?: readonly Weekday[] | undefined;
  /** `HH:MM`, inclusive; with `to`. */
  readonly from?: string | undefined;
  /** `HH:MM`, exclusive. Before `from` means the window runs over midnight. */
  readonly to?: string | undefined;
  readonly tz: string;
  /** Apply the rule outside the window instead. */
  readonly outside?: boolean | undefined;
}

interface LocalTime {
  readonly day: Weekday;
  /** Minutes since local midnight. */
  readonly minute: number;
}

/**
 * True when `tz` is a time zone Intl knows.
 *
 * @example
 * isTimeZone('Europe/Berlin'); // true
 */
export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/**
 * Parses `HH:MM` (00:00–24:00) to minutes, or undefined.
 *
 * @example
 * parseClock('09:30'); // 570
 */
export function parseClock(s: string): number | undefined {
  const m = /^([01]\d|2[0-4]):([0-5]\d)$/.exec(s);
  if (m === null) return undefined;
  const minutes = Number(m[1]) * 60 + Number(m[2]);
  return minutes <= 24 * 60 ? minutes : undefined;
}

/**
 * A compiled window. `contains(now)` answers whether the rule applies at `now` (ms), `outside`
 * already taken into account.
 *
 * @example
 * const w = new TimeWindow({ days: ['mon'], from: '09:00', to: '18:00', tz: 'Europe/Berlin' });
 * w.contains(Date.parse('2026-11-23T10:00:00Z')); // true (a Monday, 11:00 in Berlin)
 */
export class TimeWindow {
  readonly spec: WindowSpec;
  readonly #days: ReadonlySet<Weekday> | null;
  readonly #from: number;
  readonly #to: number;
  readonly #format: Intl.DateTimeFormat;
  #cachedMinute = Number.NaN;
  #cached: LocalTime = { day: 'sun', minute: 0 };

  constructor(spec: WindowSpec) {
    this.spec = spec;
    this.#days = spec.days === undefined ? null : new Set(spec.days);
    this.#from = spec.from === undefined ? 0 : (parseClock(spec.from) ?? 0);
    this.#to = spec.to === undefined ? 24 * 60 : (parseClock(spec.to) ?? 24 * 60);
    this.#format = new Intl.DateTimeFormat('en-US', {
      timeZone: spec.tz,
      weekday: 'short',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
  }

  contains(now: number): boolean {
    return this.#inside(this.local(now)) !== (this.spec.outside === true);
  }

  /** The local weekday and minute of `now` in the window's zone. */
  local(now: number): LocalTime {
    const bucket = Math.floor(now / 60_000);
    if (bucket === this.#cachedMinute) return this.#cached;
    let day: Weekday = 'sun';
    let hour = 0;
    let minute = 0;
    for (const part of this.#format.formatToParts(now)) {
      if (part.type === 'weekday') day = part.value.slice(0, 3).toLowerCase() as Weekday;
      else if (part.type === 'hour') hour = Number(part.value);
      else if (part.type === 'minute') minute = Number(part.value);
    }
    this.#cachedMinute = bucket;
    this.#cached = { day, minute: hour * 60 + minute };
    return this.#cached;
  }

  /** `mon,tue 09:00-18:00 Europe/Berlin`, for explanations. */
  describe(): string {
    const days = this.spec.days?.join(',') ?? 'every day';
    const hours = this.spec.from === undefined ? 'all day' : `${this.spec.from}-${this.spec.to}`;
    return `${days} ${hours} ${this.spec.tz}`;
  }

  #inside({ day, minute }: LocalTime): boolean {
    if (this.#days !== null && !this.#days.has(day)) return false;
    if (this.#from <= this.#to) return minute >= this.#from && minute < this.#to;
    return minute >= this.#from || minute < this.#to;
  }
}
