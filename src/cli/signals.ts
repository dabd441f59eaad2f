import type { RunningGateway } from '../server/http.ts';

/** Resolves on SIGTERM or SIGINT, then drains the gateway. */
export function drainOnSignal(gateway: RunningGateway, onDrained?: () => Promise<void>): Promise<number> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      process.stdout.write(`${signal} received: draining in-flight requests\n`);
      void gateway.shutdown().then(async ({ drained }) => {
        await onDrained?.();
        process.stdout.write(
          drained ? 'stopped\n' : 'stopped (grace period over; remaining connections closed)\n',
        );
        resolve(0);
      });
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}
