# Redis, Kafka and the command-line tools on loopback; included by the Makefile.
.PHONY: dev-up dev-down dev-status tools kafka-console-consumer

dev-up: ## Redis and Kafka (KRaft) on loopback, topics created; reuses running servers
	infra/redis.sh up
	infra/kafka.sh up && infra/kafka.sh topics

dev-down: ## stop the Redis and Kafka that dev-up started
	infra/kafka.sh down; infra/redis.sh down

dev-status: ## are Redis and Kafka answering?
	infra/redis.sh status; infra/kafka.sh status

tools: ## grpcurl, built with go install into .cache/bin
	@infra/tools.sh grpcurl >/dev/null

kafka-console-consumer: ## print a topic's messages: make kafka-console-consumer TOPIC=QUEUE_READY
	infra/kafka.sh consume $(or $(TOPIC),QUEUE_READY)
