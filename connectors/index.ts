/**
 * Where streams come from and go: the rmas.v1 protobuf wire format and the Kafka connectors.
 */
export * from './kafka/index.ts';
export * from './wire/index.ts';
