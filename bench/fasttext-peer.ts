/**
 * The fastText peer's prediction throughput, for `bench:serve`'s side-by-side comparison: trains a model with the
 * peer's settings (`../shared/bench/peers.py`: word 2-grams, char 3–5, dim 100), then times
 * `fasttext predict-prob … 5` over the given texts and over one text, and reports the difference per item, so
 * that model loading is excluded. Prediction cost does not depend on the number of epochs, so one epoch is enough.
 *
 *   node -r ./bench/swc-register.js bench/fasttext-peer.ts TRAIN.csv TEST.csv
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';

/** The peer's own normalisation (peers.py `norm`). */
function peerNormalise(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{N}_\s]/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

interface PeerRow {
  description: string;
  hs_code: string;
}

function readRows(path: string): PeerRow[] {
  return parse<PeerRow>(readFileSync(path), { columns: true, skip_empty_lines: true });
}

function timeMs(run: () => void): number {
  const start = process.hrtime.bigint();
  run();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

export function measureFastTextPredict(
  trainCsv: string,
  testCsv: string,
  repeats = 3,
): Record<string, number> {
  const dir = mkdtempSync(join(tmpdir(), 'fasttext-peer-'));
  try {
    const train = readRows(trainCsv)
      .map(
        (row) =>
          `__label__${(row.hs_code.split(';')[0] ?? '').trim().slice(0, 6)} ${peerNormalise(row.description)}`,
      )
      .join('\n');
    writeFileSync(join(dir, 'train.txt'), `${train}\n`);
    const texts = readRows(testCsv).map((row) => peerNormalise(row.description));
    writeFileSync(join(dir, 'q.txt'), `${texts.join('\n')}\n`);
    writeFileSync(join(dir, 'one.txt'), `${texts[0] ?? 'x'}\n`);
    const model = join(dir, 'm');
    // prettier-ignore
    execFileSync('fasttext', ['supervised', '-input', join(dir, 'train.txt'), '-output', model, '-epoch', '1', '-lr', '0.5',
      '-wordNgrams', '2', '-minn', '3', '-maxn', '5', '-dim', '100', '-thread', '2', '-verbose', '0']);
    const predict = (file: string) => (): void => {
      execFileSync('fasttext', ['predict-prob', `${model}.bin`, join(dir, file), '5'], {
        maxBuffer: 1 << 28,
      });
    };
    let best = Infinity;
    for (let i = 0; i < repeats; i++) {
      const all = timeMs(predict('q.txt'));
      const loadOnly = timeMs(predict('one.txt'));
      best = Math.min(best, all - loadOnly);
    }
    return {
      items: texts.length,
      predictMsExcludingLoad: best,
      itemsPerSecond: (texts.length / best) * 1000,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const [trainCsv, testCsv] = process.argv.slice(2);
  if (!trainCsv || !testCsv) {
    console.error('usage: bench/fasttext-peer.ts TRAIN.csv TEST.csv');
    process.exit(2);
  }
  console.log(
    JSON.stringify({ peer: 'fasttext predict-prob (k=5)', ...measureFastTextPredict(trainCsv, testCsv) }),
  );
}
