export { bullmqDispatcher, type BullmqDispatcherOptions } from './bullmq.dispatcher.js';
