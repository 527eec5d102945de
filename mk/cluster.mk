# The cluster stack on one machine (Redis Cluster on 7000-7005, three Kafka brokers on
# 9192-9194, the services against them) and the fault drills run there. Included by the Makefile.
.PHONY: cluster-up cluster-down cluster-status drills

cluster-up: install ## Redis Cluster (3 primaries + 3 replicas), 3 Kafka brokers (RF 3) and the services (waitroom twice), health-checked
	scripts/cluster.sh up

cluster-down: ## stop the cluster stack's services, brokers and Redis nodes (their data stays)
	scripts/cluster.sh down

cluster-status: ## every Redis node, Kafka broker and service: port, pid, role or health (JSON=1 for JSON)
	@scripts/cluster.sh status $(if $(JSON),--json)

drills: install ## every fault drill on the cluster stack (make cluster-up first): JSON in drills/results/, one table
	$(PY) -m drills $(DRILLS)
