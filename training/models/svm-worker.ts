/**
 * Worker-thread entry of the svm solver (trainLinearSvm with `threads` > 1): solves one range of classes on
 * examples shared with the caller and returns their weights.
 */
import { serveWorkerTask } from '../../shared/pipelines/worker-thread';
import { solveClassRange, type SolvedClasses, type SvmWorkerInput } from './svm';

serveWorkerTask<SvmWorkerInput, never, SolvedClasses>(async (input) => {
  const result = solveClassRange(input.data, input.config, input.from, input.to, input.seed);
  return {
    result,
    transferList: result.solutions.flatMap((s) => [
      s.features.buffer as ArrayBuffer,
      s.values.buffer as ArrayBuffer,
    ]),
  };
});
