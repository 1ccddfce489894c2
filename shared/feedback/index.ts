export * from './feedback';
export * from './default';
