# Redis, Kafka and the command-line tools on loopback. Included by the root Makefile; also works
# alone: make -f mk/infra.mk dev-up. Paths are relative to this file, not to the working directory.
INFRA_DIR := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))../infra)

.PHONY: dev-up dev-down dev-status tools kafka-console-consumer

dev-up: ## Redis and Kafka (KRaft) on loopback, topics created; reuses running servers
	$(INFRA_DIR)/redis.sh up
	$(INFRA_DIR)/kafka.sh up
	$(INFRA_DIR)/kafka.sh topics

dev-down: ## stop the Redis and Kafka that dev-up started
	$(INFRA_DIR)/kafka.sh down; $(INFRA_DIR)/redis.sh down

dev-status: ## are Redis and Kafka answering? (fails if either is not)
	@rc=0; $(INFRA_DIR)/redis.sh status || rc=1; $(INFRA_DIR)/kafka.sh status || rc=1; exit $$rc

tools: ## grpcurl, built with go install into .cache/bin (waits for a build that `make up` started)
	@$(INFRA_DIR)/tools.sh grpcurl

kafka-console-consumer: ## a topic's messages from the beginning until Ctrl-C (or IDLE=5: after 5 s without one)
	$(if $(TOPIC),,$(error set TOPIC, e.g. make kafka-console-consumer TOPIC=QUEUE_READY))
	@$(INFRA_DIR)/kafka.sh consume $(TOPIC) $(if $(IDLE),--timeout-ms $(IDLE)000)
