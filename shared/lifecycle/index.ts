export * from './events';
export * from './experiments';
export * from './default';
export * from './arm-failures';
