import type { Consumer, Producer, Transaction } from 'kafkajs';
import { expectTypeOf, test } from 'vitest';
import type {
  KafkaLikeConsumer,
  KafkaLikeProducer,
  KafkaLikeTransaction,
} from '../../connectors/index.ts';

// The connectors take structural types; kafkajs's own objects must fit them unchanged.
test('kafkajs clients fit the connector interfaces', () => {
  expectTypeOf<Consumer>().toExtend<KafkaLikeConsumer>();
  expectTypeOf<Producer>().toExtend<KafkaLikeProducer>();
  expectTypeOf<Transaction>().toExtend<KafkaLikeTransaction>();
});

test('a consumer without commitOffsets does not fit', () => {
  expectTypeOf<Omit<Consumer, 'commitOffsets'>>().not.toExtend<KafkaLikeConsumer>();
});
