"""No Secret value is committed; the secrets script rotates the signing key without a gap."""

import json
import os
import subprocess
from pathlib import Path

import yaml

from common.tokens.signing import load_private_key, load_public_key, public_jwk
from tests.deploy.manifests import REPO, kustomizations, secret_files

SCRIPT = REPO / "scripts" / "k8s-secrets.sh"


def tracked(*patterns: str) -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files", "-z", "--", *patterns], cwd=REPO, capture_output=True, check=True
    )
    return [REPO / name for name in out.stdout.decode().split("\0") if name]


def test_no_committed_manifest_holds_a_secret_value() -> None:
    for path in tracked("*.yaml", "*.yml", "*.json"):
        text = path.read_text()
        docs = [json.loads(text)] if path.suffix == ".json" else yaml.safe_load_all(text)
        secrets = [doc for doc in docs if isinstance(doc, dict) and doc.get("kind") == "Secret"]
        assert not [s for s in secrets if s.get("data") or s.get("stringData")], path


def test_secret_generators_read_only_files_that_git_ignores() -> None:
    for path in kustomizations().values():
        spec = yaml.safe_load((path / "kustomization.yaml").read_text())
        for generator in spec.get("secretGenerator", []):
            assert set(generator) <= {"name", "files", "type", "options"}, "files only, no literals"
        files = [str(file.relative_to(REPO)) for file in secret_files(path)]
        if files:
            ignored = subprocess.run(
                ["git", "check-ignore", "--no-index", *files], cwd=REPO, capture_output=True
            )
            assert sorted(ignored.stdout.decode().split()) == sorted(files)
            assert not tracked(*files)


def published_and_signing(secrets: Path) -> tuple[str, set[str]]:
    """The kid that signs and the kids the JWKS publishes, from the overlay's secret files."""
    signing = public_jwk(load_private_key((secrets / "signing-key.pem").read_bytes()).public_key())
    extra = public_jwk(load_public_key((secrets / "extra-public-key.pem").read_bytes()))
    return signing["kid"], {signing["kid"], extra["kid"]}


def test_key_rotation_keeps_every_issued_token_verifiable(tmp_path: Path) -> None:
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "kustomization.yaml").write_text("resources: []\n")
    env = {**os.environ, "K8S_OVERLAYS_DIR": str(tmp_path)}
    secrets = tmp_path / "demo" / "secrets"
    seen = []
    for step in ("init", "rotate-start", "rotate-finish", "rotate-end"):
        subprocess.run([str(SCRIPT), "demo", step], env=env, check=True, capture_output=True)
        seen.append(published_and_signing(secrets))
    (first, after_init), (still, before_switch), (second, after_switch), (last, after_end) = seen
    assert after_init == {first}
    assert still == first, "the current key signs until the next one is published everywhere"
    assert len(before_switch) == 2
    assert second != first
    assert after_switch == {first, second}, "the old key stays published while its tokens live"
    assert last == second
    assert after_end == {second}
    assert len((secrets / "admin-token").read_text()) == 64
