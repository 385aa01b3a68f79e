"""What installing the project puts on a user's machine: ``echofuzz``, and no bare ``spec``.

Installed, the distribution once added top-level ``spec`` and ``impl`` packages,
and its pytest plugin, loaded in every project through its ``pytest11`` entry
point, imported ``spec.echo``: in a user's project with a ``spec`` package of
its own, ``python -m pytest`` failed before running a test. Now only
``echofuzz`` is installed, and ``spec/`` and ``impl/`` are read from the
checkout. The tests build and install the project for real, into a directory
of their own and with the build backend of the running environment (offline),
then use that installation from outside the checkout.
"""

import csv
import importlib.metadata
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from echofuzz.engine.targets import free_port, wait_until_accepting

if sys.version_info >= (3, 11):
    import tomllib
else:  # pytest's own dependency on 3.10
    import tomli as tomllib

PY = sys.executable
ROOT = Path(__file__).resolve().parent.parent
#: Top-level directories of the checkout that are not to be installed.
NOT_INSTALLED = ("spec", "impl", "tests", "benchmarks")
#: What a build in place would write into the checkout, and what is not source.
NOT_SOURCE = (".git", ".tox", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache")
NOT_SOURCE += (".hypothesis", "xdg-cache")


def clean_environment(**extra):
    """The running environment without the variables that would change what is imported."""
    drop = ("PYTHONPATH", "PYTHONHOME", "PYTEST_ADDOPTS", "PYTEST_PLUGINS")
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("PIP_")}
    env.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
    return {**env, **extra}


def run(argv, cwd, timeout=30.0, **env):
    return subprocess.run(
        argv,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=clean_environment(**env),
    )


def require_build_backend():
    """The build requirements of pyproject.toml, met by this environment, or a skip."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    for text in pyproject["build-system"]["requires"]:
        requirement = Requirement(text)
        try:
            version = importlib.metadata.version(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            version = None
        if version is None or not requirement.specifier.contains(version, prereleases=True):
            pytest.skip(
                f"building offline needs {text} here, not {version}: pip install '{text}' "
                "(the test extra has it)"
            )


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The project, built from a copy of the checkout and installed into a directory.

    A copy, because a build writes ``build/`` and ``*.egg-info`` into the source
    tree; the copy has ``spec/``, ``impl/``, ``tests/`` and ``benchmarks/``
    too, so leaving them out is the packaging's doing.
    """
    require_build_backend()
    source = tmp_path_factory.mktemp("source") / "demystify-async"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    assert all((source / name / "__init__.py").exists() for name in ("spec", "impl", "tests"))
    assert (source / "benchmarks").is_dir()
    target = tmp_path_factory.mktemp("site-packages")
    done = run(
        [
            PY, "-m", "pip", "install", "--isolated", "--disable-pip-version-check",
            "--no-index", "--no-deps", "--no-build-isolation", "--no-cache-dir", "--no-compile",
            "--quiet", "--target", str(target), str(source),
        ],
        cwd=source,
        timeout=120.0,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return target


def test_installing_adds_only_echofuzz_and_its_metadata_and_no_bare_spec_or_impl(installed):
    entries = {entry.name for entry in installed.iterdir()}
    metadata = [name for name in entries if name.endswith(".dist-info")]
    assert len(metadata) == 1 and metadata[0].startswith("demystify_async-"), entries
    assert entries - {"bin"} == {"echofuzz", metadata[0]}
    assert not entries & set(NOT_INSTALLED)
    # What a plain install would put in site-packages; paths out of it (../) are scripts.
    with installed.joinpath(metadata[0], "RECORD").open(newline="") as record:
        paths = [row[0] for row in csv.reader(record) if row]
    assert {path.split("/")[0] for path in paths if not path.startswith("../")} == {
        "echofuzz",
        metadata[0],
    }, paths


def test_the_installation_imports_from_outside_the_checkout_and_spec_and_impl_do_not(
    installed, tmp_path
):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code = (
        "import echofuzz, echofuzz.frontends.cli, echofuzz.frontends.pytest_plugin\n"
        "print(echofuzz.__file__)"
    )
    done = run([PY, "-c", code], cwd=elsewhere, PYTHONPATH=str(installed))
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()) == installed / "echofuzz" / "__init__.py"
    for bare in ("spec", "impl"):
        missing = run([PY, "-c", f"import {bare}"], cwd=elsewhere, PYTHONPATH=str(installed))
        assert missing.returncode == 1
        assert f"ModuleNotFoundError: No module named '{bare}'" in missing.stderr


USER_TEST = """\
import spec
import impl


def test_my_own_spec_and_impl_are_imported(request):
    assert request.config.pluginmanager.has_plugin("echofuzz")  # ours, from its entry point
    assert (spec.OWNER, impl.OWNER) == ("the user", "the user")
    print("spec from:", spec.__file__)
"""


def test_pytest_runs_in_a_user_project_with_its_own_spec_and_impl_while_the_plugin_is_installed(
    tmp_path,
):
    assert "echofuzz" in {
        entry.name for entry in importlib.metadata.entry_points(group="pytest11")
    }, "the plugin is not installed in this environment"
    project = tmp_path / "project"
    for package in ("spec", "impl"):
        (project / package).mkdir(parents=True)
        (project / package / "__init__.py").write_text('OWNER = "the user"\n')
    (project / "test_mine.py").write_text(USER_TEST)
    done = run(
        [PY, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "test_mine.py"],
        cwd=project,
        timeout=60.0,
        XDG_CACHE_HOME=str(tmp_path / "xdg-cache"),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
    assert f"spec from: {project / 'spec' / '__init__.py'}" in done.stdout


def test_impl_select_echo_still_runs_as_a_module_from_the_checkout_root():
    helped = run([PY, "-m", "impl.select_echo", "--help"], cwd=ROOT)
    assert helped.returncode == 0, helped.stderr
    assert helped.stdout.startswith("usage: python -m impl.select_echo")
    port = free_port()
    argv = [PY, "-m", "impl.select_echo", "--port", str(port)]
    with subprocess.Popen(
        argv, cwd=ROOT, env=clean_environment(), stderr=subprocess.DEVNULL
    ) as server:
        try:
            assert wait_until_accepting(("127.0.0.1", port), 10.0), "it did not start"
            with socket.create_connection(("127.0.0.1", port), timeout=5.0) as client:
                client.sendall(b"ping")
                client.shutdown(socket.SHUT_WR)
                echoed = b""
                while chunk := client.recv(4096):
                    echoed += chunk
            assert echoed == b"ping"
        finally:
            server.terminate()
            server.wait(10)


def test_python_m_echofuzz_help_works_from_outside_the_checkout(tmp_path):
    done = run([PY, "-m", "echofuzz", "--help"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: echofuzz")
    assert "exit status: 0 no divergence" in done.stdout
