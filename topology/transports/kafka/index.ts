/** The kafka transport's entry point: importing it loads kafkajs (topology/index.js does not). */
export { KafkaTransport, type KafkaTransportOptions } from './kafka-transport.js';
