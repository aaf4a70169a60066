export * from './sign.js';
export * from './xml.js';
export * from './time.js';
export * from './nonce.js';
export * from './fields.js';
