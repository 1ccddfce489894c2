/**
 * Open-loop load at a steady rate, for bench/serve-http.ts: request i is due at start + i / RATE and is sent then,
 * whatever earlier requests are doing (keep-alive connections, as many as are in flight). Latency counts from the
 * due time, not from the send, so a stalled generator or server cannot hide its queueing (what wrk2 calls
 * coordinated omission). autocannon's `-R` instead lets each connection fire its whole per-second quota back to
 * back at the top of every second, which measures bursts of full concurrency rather than a steady rate.
 *
 *   node dist/bench/paced-load.js URL RATE SECONDS BODY HEADER=VALUE...
 *
 * Prints one JSON object in autocannon's `--json` shape (the fields serve-http.ts reads).
 */
import { Agent, request } from 'node:http';
import { percentile } from './percentile';

async function main(): Promise<void> {
  const [url, rateText, secondsText, body, ...headerArgs] = process.argv.slice(2);
  const rate = Number(rateText);
  const seconds = Number(secondsText);
  if (url === undefined || body === undefined || !(rate > 0) || !(seconds > 0))
    throw new Error('usage: paced-load URL RATE SECONDS BODY [HEADER=VALUE...]');
  const headers: Record<string, string> = { 'content-length': String(Buffer.byteLength(body)) };
  for (const pair of headerArgs) {
    const at = pair.indexOf('=');
    headers[pair.slice(0, at)] = pair.slice(at + 1);
  }
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const target = new URL(url);
  const total = Math.round(rate * seconds);
  const intervalMs = 1000 / rate;
  const latencies: number[] = [];
  let errors = 0;
  let non2xx = 0;
  let sent = 0;
  let settled = 0;
  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (finish = resolve));

  const send = (dueAt: number): void => {
    const req = request(
      { host: target.hostname, port: target.port, path: target.pathname, method: 'POST', headers, agent },
      (res) => {
        res.resume();
        res.on('end', () => {
          latencies.push(performance.now() - dueAt);
          if ((res.statusCode ?? 0) < 200 || (res.statusCode ?? 0) >= 300) non2xx++;
          if (++settled === total) finish();
        });
      },
    );
    req.on('error', () => {
      errors++;
      if (++settled === total) finish();
    });
    req.end(body);
  };

  const started = performance.now();
  // A 1 ms ticker sends every request that has come due; timers cannot fire more precisely than that.
  const ticker = setInterval(() => {
    const now = performance.now();
    while (sent < total && started + sent * intervalMs <= now) {
      send(started + sent * intervalMs);
      sent++;
    }
    if (sent === total) clearInterval(ticker);
  }, 1);
  await done;
  const elapsedSeconds = (performance.now() - started) / 1000;
  agent.destroy();
  const sorted = latencies.sort((a, b) => a - b);
  const round = (value: number): number => Math.round(value * 10) / 10;
  console.log(
    JSON.stringify({
      requests: { average: Math.round((total / elapsedSeconds) * 100) / 100, total },
      latency: {
        p50: round(percentile(sorted, 50)),
        p99: round(percentile(sorted, 99)),
        max: round(sorted[sorted.length - 1] ?? NaN),
      },
      errors,
      non2xx,
      timeouts: 0,
    }),
  );
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
