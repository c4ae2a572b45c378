// The RabbitMQ the tests use (started before the suite; .ci/run starts one on a bare machine).
export const RABBITMQ_URL = process.env.TEST_RABBITMQ_URL ?? "amqp://guest:guest@127.0.0.1:5672";
