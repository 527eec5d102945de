#!/usr/bin/env bash
# The Secrets of a deploy/k8s overlay, made with openssl as files in deploy/k8s/overlays/OVERLAY/
# secrets/ (ignored by git), which the overlay's secretGenerator reads. Never commit them.
# Usage: k8s-secrets.sh OVERLAY init|rotate-start|rotate-finish|rotate-end
#   init           an admin token and an Ed25519 signing key, unless they are there already
#   rotate-start   a next signing key; its public half is published, the current key still signs
#   rotate-finish  the next key signs; the old key's public half stays published
#   rotate-end     only the signing key is published (once the longest checkout hold has passed)
# After each step: kubectl apply -k deploy/k8s/overlays/OVERLAY (the pods roll onto the new Secret).
set -euo pipefail
usage="usage: $0 OVERLAY init|rotate-start|rotate-finish|rotate-end"
overlay=${1:?$usage}
dir=${K8S_OVERLAYS_DIR:-$(cd "$(dirname "$0")/.." && pwd)/deploy/k8s/overlays}/$overlay
[[ -f $dir/kustomization.yaml ]] || { echo "no overlay '$overlay' in ${dir%/*}" >&2; exit 2; }
dir=$dir/secrets
key=$dir/signing-key.pem next=$dir/next-signing-key.pem extra=$dir/extra-public-key.pem
umask 077
mkdir -p "$dir"

new_key() { openssl genpkey -algorithm ed25519 -out "$1"; }
publish() { openssl pkey -in "$1" -pubout -out "$extra"; }
need() { [[ -f $1 ]] || { echo "$1 is missing: $2" >&2; exit 1; }; }

init() {
  [[ -f $dir/admin-token ]] || openssl rand -hex 32 | tr -d '\n' >"$dir/admin-token"
  [[ -f $key ]] || new_key "$key"
  [[ -f $extra ]] || publish "$key"
}

rotate_start() {
  need "$key" "run init first"
  [[ -f $next ]] || new_key "$next"
  publish "$next"
}

rotate_finish() {
  need "$next" "run rotate-start (and apply it) first"
  publish "$key"
  mv "$next" "$key"
}

rotate_end() {
  need "$key" "run init first"
  publish "$key"
}

case ${2:-} in
  init | rotate-start | rotate-finish | rotate-end) "${2//-/_}" ;;
  *) echo "$usage" >&2; exit 2 ;;
esac
echo "[k8s-secrets] $2 done in $dir; now: kubectl apply -k deploy/k8s/overlays/$overlay"
