export interface LearningRateSchedule {
  /** Peak learning rate. */
  base: number;
  /** Steps of linear warm-up from 0 to `base`. Default 0. */
  warmupSteps: number;
  /** Shape after warm-up. Default 'linear'. */
  decay: 'constant' | 'linear' | 'cosine';
  /** Floor as a fraction of `base` at the last step. Default 0. */
  finalFactor: number;
}

/** Learning rate at `step` (0-based) of `totalSteps`. */
export function learningRateAt(schedule: LearningRateSchedule, step: number, totalSteps: number): number {
  const { base, warmupSteps, decay, finalFactor } = schedule;
  if (step < warmupSteps) return (base * (step + 1)) / warmupSteps;
  if (decay === 'constant') return base;
  const span = Math.max(totalSteps - warmupSteps, 1);
  const progress = Math.min(Math.max((step - warmupSteps) / span, 0), 1);
  const shape = decay === 'linear' ? 1 - progress : 0.5 * (1 + Math.cos(Math.PI * progress));
  return base * (finalFactor + (1 - finalFactor) * shape);
}
