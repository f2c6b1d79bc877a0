// The progress bar on a terminal (cli-progress, on stderr so that `--json` on stdout stays clean);
// nothing at all when stderr is not a terminal (CI logs, pipes).

import cliProgress from 'cli-progress';
import type { RunProgress } from './runner.js';

export interface ProgressDisplay {
  update(progress: RunProgress): void;
  stop(): void;
}

const silent: ProgressDisplay = { update: () => undefined, stop: () => undefined };

/**
 * A bar over the run's duration (`durationMs`) or its operation count (`operations`), showing the
 * throughput so far and the errors.
 */
export function progressBar(
  label: string,
  limits: { durationMs?: number | undefined; operations?: number | undefined },
  stream: NodeJS.WriteStream = process.stderr,
): ProgressDisplay {
  if (!stream.isTTY) return silent;
  const byTime = limits.durationMs !== undefined;
  const total = byTime ? Math.round((limits.durationMs as number) / 100) / 10 : (limits.operations ?? 0);
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: `${label.padEnd(28).slice(0, 28)} [{bar}] {percentage}% | {value}/{total} ${byTime ? 's' : 'ops'} | {rate} ops/s | {errors} errors`,
      hideCursor: true,
      clearOnComplete: true,
      barsize: 24,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { rate: 0, errors: 0 });
  return {
    update(progress) {
      const value = byTime ? Math.min(total, Math.round(progress.elapsedMs / 100) / 10) : progress.completed + progress.errors;
      const rate = progress.elapsedMs > 0 ? Math.round((progress.completed * 1000) / progress.elapsedMs) : 0;
      bar.update(value, { rate, errors: progress.errors });
    },
    stop() {
      bar.stop();
    },
  };
}
