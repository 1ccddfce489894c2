export * from './types';
export * from './registry';
export * from './model-source';
export * from './default';
