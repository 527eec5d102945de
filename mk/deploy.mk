# Container images and the Kubernetes manifests in deploy/k8s. Included by the root Makefile.
IMAGE_PREFIX ?= waitroom
IMAGE_TAG ?= 0.1.0
# Every runnable package under services/ (one with a __main__.py) gets an image.
IMAGE_SERVICES ?= $(patsubst services/%/__main__.py,%,$(wildcard services/*/__main__.py))
OVERLAY ?= dev

.PHONY: images topics kustomize deploy-secrets deploy-render

# Fails (exit 1) where no Docker engine answers, as on our development machines and CI.
images: ## every service's container image, from deploy/docker/Dockerfile (needs a Docker engine): IMAGE_PREFIX=... IMAGE_TAG=...
	@docker info >/dev/null 2>&1 || { echo "make images: no Docker engine answers here ('docker info' failed); no image was built" >&2; exit 1; }
	for svc in $(IMAGE_SERVICES); do docker build -f deploy/docker/Dockerfile --build-arg SERVICE=$$svc -t $(IMAGE_PREFIX)/$$svc:$(IMAGE_TAG) . || exit 1; done

topics: install ## the topic tool's list and the KafkaTopic manifests, from libs/common/kafka/topics.py
	$(PY) deploy/gen_topics.py

kustomize: ## kustomize, built with go install into .cache/bin
	@infra/tools.sh kustomize >/dev/null

deploy-secrets: ## an overlay's signing key and admin token, made with openssl, never committed: OVERLAY=dev
	scripts/k8s-secrets.sh $(OVERLAY) init

deploy-render: kustomize ## print an overlay's manifests (after deploy-secrets): OVERLAY=production
	@.cache/bin/kustomize build deploy/k8s/overlays/$(OVERLAY)
