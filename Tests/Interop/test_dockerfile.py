"""Static checks of the Dockerfile and .dockerignore (no Docker engine runs here, and Debian has no hadolint).

The rules: a multi-stage build; the build stage is an official ``swift:`` image at this machine's toolchain
version, installs ``libsqlite3-dev`` as ``.ci/run`` does and builds the ``tapedeck`` product (the binary
``.ci/run`` builds and tests) as a ``--static-swift-stdlib`` release; what it copies is enough for SwiftPM to load
the package; the runtime stage is a slim image with ``libsqlite3``, a non-root user, ``EXPOSE 4010``, a
``/cassettes`` volume, a health check on ``/_tapedeck/health``, ``ENTRYPOINT ["tapedeck"]`` and a default
``serve`` command on ``0.0.0.0`` (with ``--insecure-admin``) whose cassette is in the image; ``.dockerignore``
leaves out ``.build`` and nothing the Dockerfile copies.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import pytest

from support import REPO_ROOT, tapedeck_binary

DOCKERFILE = REPO_ROOT / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"
CI_RUN = REPO_ROOT / ".ci" / "run"
PACKAGE = REPO_ROOT / "Package.swift"
PRODUCT = "tapedeck"


# -- a small Dockerfile reader -----------------------------------------------------


@dataclass
class Instruction:
    keyword: str
    args: str

    def exec_form(self) -> list[str]:
        value = json.loads(self.args)
        assert isinstance(value, list) and all(isinstance(v, str) for v in value), f"{self.keyword} is not exec form"
        return value

    def words(self) -> list[str]:
        return shlex.split(self.args)


@dataclass
class Stage:
    image: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction:
        found = self.all(keyword)
        assert found, f"stage {self.name or self.image} has no {keyword}"
        return found[-1]

    def runs(self) -> str:
        return "\n".join(i.args for i in self.all("RUN"))


def read_dockerfile(path: Path = DOCKERFILE) -> list[Stage]:
    """Stages with their instructions; comments dropped, backslash continuations joined."""
    logical: list[str] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):  # a comment inside a continued instruction
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"

    stages: list[Stage] = []
    for line in logical:
        keyword, _, args = line.partition(" ")
        keyword, args = keyword.upper(), args.strip()
        if keyword == "FROM":
            words = [w for w in args.split() if not w.startswith("--")]
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(image=words[0], name=name))
        else:
            assert stages, f"{keyword} before the first FROM"
            stages[-1].instructions.append(Instruction(keyword, args))
    return stages


def copies(stage: Stage) -> list[tuple[dict[str, str], list[str], str]]:
    """``COPY`` instructions of a stage as (options, sources, destination)."""
    result = []
    for instruction in stage.all("COPY"):
        words = instruction.words()
        options = dict(w[2:].split("=", 1) for w in words if w.startswith("--"))
        paths = [w for w in words if not w.startswith("--")]
        result.append((options, paths[:-1], paths[-1]))
    return result


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return read_dockerfile()


@pytest.fixture(scope="module")
def build(stages) -> Stage:
    return stages[0]


@pytest.fixture(scope="module")
def runtime(stages) -> Stage:
    return stages[-1]


def swift_build_commands(text: str) -> list[list[str]]:
    """Each ``swift build ...`` command that starts a shell command, as words up to the next ``&&``, ``;``, ``|`` or ``)``."""
    commands = []
    for match in re.finditer(r"(?:^|&&|;|\|\||\$\()\s*swift build\b([^&;|)\n]*)", text, re.M):
        commands.append(["swift", "build", *shlex.split(match.group(1))])
    return commands


def product_of(command: list[str]) -> str | None:
    for i, word in enumerate(command):
        if word == "--product":
            return command[i + 1]
        if word.startswith("--product="):
            return word.split("=", 1)[1]
    return None


def local_swift_version() -> str | None:
    swift = shutil.which("swift")
    if swift is None:
        return None
    out = subprocess.run([swift, "--version"], capture_output=True, text=True, timeout=60).stdout
    match = re.search(r"Swift version (\d+\.\d+(?:\.\d+)?)", out)
    return match.group(1) if match else None


# -- the build stage ---------------------------------------------------------------


def test_the_build_is_multi_stage_on_an_official_swift_image(stages, build):
    assert len(stages) >= 2, "the Dockerfile should have a build stage and a runtime stage"
    assert build.name, "the build stage needs a name (FROM ... AS build) for COPY --from"
    repository, _, tag = build.image.partition(":")
    assert repository in ("swift", "docker.io/library/swift"), f"build stage image {build.image} is not the official swift image"
    assert re.fullmatch(r"\d+\.\d+(\.\d+)?-[a-z]+(-slim)?", tag), f"swift image tag {tag!r} is not VERSION-DISTRIBUTION"


def test_the_swift_image_matches_the_toolchain_ci_uses():
    version = local_swift_version()
    if version is None:
        pytest.skip("no swift toolchain on PATH")
    tag = read_dockerfile()[0].image.partition(":")[2]
    image_version = tag.split("-")[0]
    # 6.3 tracks the newest 6.3.x; 6.3.1 pins it. Either must be this toolchain's.
    assert version == image_version or version.startswith(image_version + "."), (
        f"the build image is Swift {image_version} but .ci/run builds with Swift {version}: update the FROM line"
    )


def test_the_build_stage_builds_the_ci_product_as_a_static_stdlib_release(build):
    commands = swift_build_commands(build.runs())
    assert commands, "the build stage runs no swift build"
    release = [c for c in commands if "--static-swift-stdlib" in c]
    assert release, "no swift build with --static-swift-stdlib"
    command = release[0]
    assert "-c" in command and command[command.index("-c") + 1] == "release", command
    assert product_of(command) == PRODUCT, command

    # The same product is declared in Package.swift, built by .ci/run (all products, or this one), and is
    # what the interop suite tests.
    assert re.search(rf'\.executable\(\s*name:\s*"{PRODUCT}"', PACKAGE.read_text()), "Package.swift has no tapedeck product"
    ci_builds = swift_build_commands(CI_RUN.read_text())
    assert ci_builds, ".ci/run runs no swift build"
    assert all(product_of(c) in (None, PRODUCT) for c in ci_builds), ci_builds
    assert f".build/debug/{PRODUCT}" in (REPO_ROOT / "Tests" / "Interop" / "run.sh").read_text()


def test_the_build_stage_installs_what_ci_installs(build):
    ci = CI_RUN.read_text()
    assert "libsqlite3-dev" in ci
    assert re.search(r"apt-get install[^\n]*libsqlite3-dev", build.runs()), "the build stage does not install libsqlite3-dev"


def test_the_build_stage_copies_what_swiftpm_needs(build, tmp_path):
    """Recreate the build stage's context from its COPY lines and let SwiftPM load the package from it."""
    workdir = build.last("WORKDIR").args.rstrip("/") + "/"
    copied = []
    for options, sources, destination in copies(build):
        assert "from" not in options, "the build stage copies from another stage"
        relative = destination.removeprefix(workdir).removeprefix("./").rstrip("/")
        assert not relative.startswith("/"), f"COPY to {destination}, outside WORKDIR {workdir}"
        for source in sources:
            src = REPO_ROOT / source
            assert src.exists(), f"COPY {source}: no such file in the repository"
            copied.append(source)
            if src.is_dir():  # a folder's contents go to the destination
                shutil.copytree(src, tmp_path / relative, dirs_exist_ok=True,
                                ignore=shutil.ignore_patterns(".venv-*", "__pycache__", ".pytest_cache"))
            else:  # a file goes into a destination folder ("./", "dir/") or to the destination name
                folder = relative == "" or destination.endswith("/")
                target = tmp_path / relative / src.name if folder else tmp_path / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, target)
    assert "Package.swift" in copied

    swift = shutil.which("swift")
    if swift is None:
        pytest.skip("no swift toolchain on PATH")
    p = subprocess.run(
        [swift, "package", "describe", "--type", "json"], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert p.returncode == 0, f"SwiftPM cannot load the package from what the build stage copies:\n{p.stderr}"
    targets = {t["name"]: t["path"] for t in json.loads(p.stdout)["targets"]}
    assert PRODUCT in targets


# -- the runtime stage -------------------------------------------------------------


def test_the_runtime_stage_is_slim_with_sqlite(runtime, build):
    assert runtime.image.split(":")[0] != "swift", "the runtime stage should not carry the Swift toolchain"
    assert "slim" in runtime.image, f"runtime image {runtime.image} is not a slim image"
    assert re.search(r"apt-get install[^\n]*\blibsqlite3-0\b", runtime.runs()), "the runtime stage does not install libsqlite3-0"
    from_build = [(s, d) for o, s, d in copies(runtime) if o.get("from") == build.name]
    assert from_build, "the runtime stage copies nothing from the build stage"


def test_the_runtime_runs_as_a_non_root_user(runtime):
    user = runtime.last("USER").args.split(":")[0]
    assert user not in ("root", "0"), f"USER {user}"
    # USER comes after the last RUN: the server process, not just a build step, is unprivileged.
    keywords = [i.keyword for i in runtime.instructions]
    assert max(i for i, k in enumerate(keywords) if k == "USER") > max(i for i, k in enumerate(keywords) if k == "RUN")


def test_port_volume_and_health_check(runtime):
    assert "4010" in runtime.last("EXPOSE").args.split()
    volume = runtime.last("VOLUME").args
    volumes = json.loads(volume) if volume.startswith("[") else volume.split()
    assert "/cassettes" in volumes
    check = runtime.last("HEALTHCHECK").args
    assert "/_tapedeck/health" in check and "4010" in check, check
    # Exec form (hadolint DL3025): the command is a JSON array after CMD, run without a shell.
    command = json.loads(re.search(r"CMD\s+(\[.*\])\s*$", check).group(1))
    assert command[0] == "curl" and "-f" in command[1] and any("/_tapedeck/health" in a for a in command), command
    tool = command[0]
    assert re.search(rf"apt-get install[^\n]*\b{tool}\b", runtime.runs()), f"the health check's {tool} is not installed"


def test_entrypoint_and_default_command(runtime):
    assert runtime.last("ENTRYPOINT").exec_form() == [PRODUCT]
    binaries = [d for o, s, d in copies(runtime) if o.get("from")]
    assert f"/usr/local/bin/{PRODUCT}" in binaries, f"the binary is not copied onto PATH: {binaries}"

    command = runtime.last("CMD").exec_form()
    assert command[0] == "serve", command
    options = command[1:]
    assert options[options.index("--host") + 1] == "0.0.0.0", command
    # Off loopback the admin API wants --admin-token; the image starts without one (see the Dockerfile's comment).
    assert "--insecure-admin" in options, command
    cassette = options[options.index("--cassette") + 1]
    assert cassette.startswith("/cassettes/") and cassette.endswith(".sqlite"), cassette

    # The default cassette is in the image, owned by the user that runs the server (SQLite writes its WAL beside it).
    user = runtime.last("USER").args.split(":")[0]
    shipped = [(o, s, d) for o, s, d in copies(runtime) if not o.get("from") and (d == cassette or d.rstrip("/") == "/cassettes")]
    assert shipped, f"{cassette} is not copied into the image"
    for options_, sources, _ in shipped:
        assert options_.get("chown", "").split(":")[0] == user, f"COPY {sources} should use --chown={user}"
        for source in sources:
            assert (REPO_ROOT / source).exists(), source


def test_the_runtime_has_the_resource_bundle_beside_the_binary(runtime, build):
    # The inspector's templates are package resources. The binary looks for SwiftPM's bundle folder beside itself
    # (or in the build folder, which the runtime image does not have) and will not start without it.
    bundle = "tapedeck_TapedeckServer.resources"
    assert re.search(rf"\b{bundle}\b", build.runs()), f"the build stage does not set {bundle} aside"
    beside = [
        (sources, destination) for options, sources, destination in copies(runtime)
        if options.get("from") == build.name and any(PurePosixPath(s).name == bundle for s in sources)
    ]
    assert beside, f"the runtime stage does not copy {bundle} from the build stage"
    for sources, destination in beside:
        assert destination.rstrip("/") in ("/usr/local/bin", f"/usr/local/bin/{bundle}"), (
            f"{bundle} goes to {destination}, not beside /usr/local/bin/{PRODUCT}"
        )


def test_the_default_command_uses_only_options_the_binary_has(runtime):
    help_text = subprocess.run(
        [str(tapedeck_binary()), "serve", "--help"], capture_output=True, text=True, timeout=60
    ).stdout
    for word in runtime.last("CMD").exec_form():
        if word.startswith("--"):
            assert re.search(rf"(^|\s){re.escape(word)}(\s|$)", help_text, re.M), f"tapedeck serve has no {word}"


# -- .dockerignore -----------------------------------------------------------------


def ignore_patterns() -> list[str]:
    assert DOCKERIGNORE.exists(), ".dockerignore is missing"
    lines = [line.strip() for line in DOCKERIGNORE.read_text().splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def ignored(path: str, patterns: list[str]) -> bool:
    """Whether ``path`` (or a folder above it) matches a pattern; ``!`` exceptions are not supported."""
    assert not any(p.startswith("!") for p in patterns), "update this check for ! patterns"
    parts = PurePosixPath(path).parts
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return any(fnmatch.fnmatchcase(c, p.strip("/")) for c in candidates for p in patterns)


def test_dockerignore_leaves_out_build_output_and_keeps_what_is_copied(stages):
    patterns = ignore_patterns()
    assert ".build" in [p.strip("/") for p in patterns]
    assert ignored(".build/debug/tapedeck", patterns)
    assert ignored("Tests/Interop/.venv-2/bin/python", patterns)
    for stage in stages:
        for options, sources, _ in copies(stage):
            if "from" in options:
                continue
            for source in sources:
                assert not ignored(source, patterns), f".dockerignore drops {source}, which the Dockerfile copies"
