"""The CI workflows have the properties the project relies on."""

from pathlib import Path

import pytest
import yaml

WORKFLOWS = Path(__file__).resolve().parents[1] / ".github" / "workflows"


def load(name):
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return data


def steps(job):
    return [s.get("run", "") + " " + s.get("uses", "") for s in job["steps"]]


@pytest.fixture(scope="module")
def ci():
    return load("ci.yml")


@pytest.fixture(scope="module")
def jetson():
    return load("jetson.yml")


def test_ci_runs_on_every_push_and_pull_request_read_only(ci):
    assert {"push", "pull_request"} <= set(ci["on"])
    assert ci["permissions"] == {"contents": "read"}


def test_ci_caches_pip_and_base_models_and_runs_tests_and_sharded_claims(ci):
    jobs = ci["jobs"]
    all_steps = [s for job in jobs.values() for s in job["steps"]]
    assert any(s.get("with", {}).get("cache") == "pip" for s in all_steps)
    assert any("actions/cache" in s.get("uses", "") and ".cache/repro" in s["with"]["path"] for s in all_steps)
    assert any(r.strip() == "python -m pytest" for r in steps(jobs["tests"]))
    # the default tests start from an empty base-model cache, as a new user does
    assert not any("actions/cache" in s.get("uses", "") for s in jobs["tests"]["steps"])
    assert "runner.temp" in jobs["tests"]["env"]["REPRO_CACHE_DIR"]
    claims = jobs["claims"]
    shards = claims["strategy"]["matrix"]["include"]
    assert len(shards) >= 2 and all("tests/" in s["select"] for s in shards)
    # every paper_claims test is in exactly one shard: the cost cases, the cost claims, the accuracy grid
    assert {s["marker"] for s in shards} == {"paper_claims", "paper_claims and not accuracy",
                                            "paper_claims and accuracy", "beyond_paper"}
    assert all("-n auto" in s["select"] for s in shards if "and accuracy" not in s["marker"])
    # the accuracy shard parallelises its runs itself (repro/runs.py): no xdist workers competing for the cores
    assert not any("-n auto" in s["select"] for s in shards if s["marker"] == "paper_claims and accuracy")
    assert any('-m "${{ matrix.marker }}"' in r and "matrix.select" in r for r in steps(claims))
    assert any("GITHUB_STEP_SUMMARY" in r for r in steps(claims))
    assert any("upload-artifact" in r for r in steps(claims))


def test_jetson_runs_on_the_self_hosted_device_and_never_for_pull_requests(jetson):
    assert not {"pull_request", "pull_request_target"} & set(jetson["on"])
    assert jetson["on"]["push"]["branches"] == ["main"]
    assert "schedule" in jetson["on"] and "workflow_dispatch" in jetson["on"]
    assert jetson["permissions"] == {"contents": "read"}
    [job] = jetson["jobs"].values()
    assert job["runs-on"] == ["self-hosted", "linux", "ARM64", "jetson"]
    run = steps(job)
    assert any("-m paper_claims" in r and "--device cuda" in r for r in run)
    assert any("GITHUB_STEP_SUMMARY" in r for r in run)
    assert any("upload-artifact" in r for r in run)
    assert job["env"]["REPRO_PLATFORM"].startswith("jetson")


def test_every_x86_64_install_is_constrained_to_the_recorded_versions(ci):
    installs = [r for job in ci["jobs"].values() for r in steps(job) if "pip install" in r]
    assert installs and all("-c baselines/x86_64-cpu/constraints.txt" in r for r in installs)
    root = WORKFLOWS.parents[1]
    readme = (root / "README.md").read_text()
    assert readme.count("pip install -q -c baselines/x86_64-cpu/constraints.txt") >= 2
    assert "-c baselines/x86_64-cpu/constraints.txt" in (root / ".ci" / "run").read_text()
    assert "PIP_CONSTRAINT = {toxinidir}/baselines/x86_64-cpu/constraints.txt" in (root / "tox.ini").read_text()


def test_ci_re_derives_every_verdict_from_the_shards_records_without_torch(ci):
    job = ci["jobs"]["verdicts"]
    assert job["needs"] == "claims" and job["if"] == "always()"
    run = steps(job)
    assert any("download-artifact" in r for r in run)
    assert any("--no-deps" in r and "torch" not in r for r in run)
    assert any("python -m repro verdicts" in r and "--check" in r and "--from" in r for r in run)


def test_latest_runs_the_claims_on_the_newest_releases_and_never_fails_a_build():
    latest = load("latest.yml")
    assert not {"push", "pull_request"} & set(latest["on"]) and "workflow_dispatch" in latest["on"]
    [job] = latest["jobs"].values()
    assert job["continue-on-error"] is True
    run = steps(job)
    assert not any("constraints" in r for r in run)
    assert any("--upgrade" in r and "peft" in r and "torch" in r for r in run)
    assert any("--against baselines" in r and "GITHUB_STEP_SUMMARY" in r for r in run)
