// A terminal recording (asciicast v2) played in the page by asciinema-player. The player is its
// own chunk, loaded on first use; its terminal emulator is WebAssembly, which is why the console's
// CSP allows `'wasm-unsafe-eval'` (compiling WebAssembly, not evaluating JavaScript).
import 'asciinema-player/dist/bundle/asciinema-player.css';
import type { Player } from 'asciinema-player';
import { useEffect, useId, useRef, useState } from 'react';

const SPEEDS = [0.5, 1, 2, 4] as const;
/** Longest pause shown between two outputs, in seconds (like `airlock audit replay --max-idle`). */
const IDLE_LIMIT_S = 2;
const quiet = () => undefined;
/** The player's own default is silent too; only its errors are shown. */
const QUIET = { log: quiet, debug: quiet, info: quiet, warn: quiet };

/**
 * Plays `cast` with the player's controls (Play/Pause, a seek bar, keyboard shortcuts while it has
 * focus) and a speed choice, in a region named `label`.
 *
 * @example
 * <TerminalPlayer cast={text} label="Terminal recording: channel 0" />
 */
export function TerminalPlayer({ cast, label }: { cast: string; label: string }) {
  const box = useRef<HTMLDivElement>(null);
  const [speed, setSpeed] = useState<number>(1);
  const [error, setError] = useState('');
  const resume = useRef({ at: 0, playing: false });
  const keys = useId();
  useEffect(() => {
    let player: Player | undefined;
    let disposed = false;
    import('asciinema-player')
      .then(({ create }) => {
        if (disposed || !box.current) return;
        player = create({ data: cast }, box.current, {
          speed,
          startAt: resume.current.at,
          autoPlay: resume.current.playing,
          idleTimeLimit: IDLE_LIMIT_S,
          fit: 'width',
          controls: true,
          preload: true,
          logger: { ...QUIET, error: (...args: unknown[]) => setError(args.map(String).join(' ')) },
        });
        track(player, resume.current);
      })
      .catch((err: unknown) => setError((err as Error).message));
    return () => {
      disposed = true;
      if (player) resume.current.at = player.getCurrentTime();
      player?.dispose();
    };
  }, [cast, speed]);
  return (
    <section className="terminal" aria-label={label} aria-describedby={keys}>
      {error && <p role="alert">The player could not play this recording: {error}</p>}
      <div ref={box} className="terminal-screen" />
      <div className="terminal-tools">
        <label>
          Speed{' '}
          <select value={speed} onChange={(e) => setSpeed(Number(e.target.value))}>
            {SPEEDS.map((s) => (
              <option key={s} value={s}>
                {s}×
              </option>
            ))}
          </select>
        </label>
        <span id={keys} className="muted">
          With the player focused: Space plays or pauses, ← → seek, 0–9 jump to 0–90 %, ? lists
          every key. Pauses over {IDLE_LIMIT_S} s are shortened.
        </span>
      </div>
    </section>
  );
}

/** Keeps whether it plays, so a new speed carries on where the old player was. */
function track(player: Player, state: { playing: boolean }): void {
  player.addEventListener('play', () => {
    state.playing = true;
  });
  for (const stop of ['pause', 'ended'] as const) {
    player.addEventListener(stop, () => {
      state.playing = false;
    });
  }
}
