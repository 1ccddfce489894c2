export * from './events';
export * from './experiments';
export * from './default';
