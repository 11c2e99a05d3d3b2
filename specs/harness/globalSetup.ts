// Placeholder until the Kafka harness lands: nothing to start yet.
export default async function setup(): Promise<void> {}
